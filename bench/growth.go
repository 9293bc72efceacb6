package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver troupe's embedded store uses

	"github.com/troupehq/troupe"
)

// ---- 7. growth -------------------------------------------------------------

func (b *bench) growth(ctx context.Context) ([]Row, error) {
	small, large := b.sizes.growthSmall, b.sizes.growthLarge
	if b.dbPath() == "" {
		note := "seeding is written for the embedded SQLite store only"
		return []Row{
			{Scenario: "growth: start latency", Note: note},
			{Scenario: "growth: list page of 1,000 runs", Note: note},
		}, nil
	}
	type measured struct {
		starts, lists latencies
		seed          time.Duration
	}
	var at [2]measured
	for k, size := range []int{small, large} {
		label := fmt.Sprintf("growth: %s runs stored", short(size))
		b.prog.set(label, "stopping the server")
		b.srv.stop()
		begin := time.Now()
		if err := b.seed(ctx, size, func(done, todo int) {
			b.prog.set(label, "seeding the store: %d/%d runs", done, todo)
		}); err != nil {
			return nil, fmt.Errorf("seed %d runs: %w", size, err)
		}
		at[k].seed = time.Since(begin)
		b.prog.set(label, "starting the server")
		if err := b.srv.start(ctx); err != nil {
			return nil, err
		}
		var err error
		if at[k].starts, _, err = b.starts(ctx, label+": start latency", b.sizes.growthStarts, false); err != nil {
			return nil, err
		}
		if at[k].lists, err = b.listPages(ctx, label+": list page", size); err != nil {
			return nil, err
		}
	}

	var rows []Row
	for _, m := range []struct {
		name string
		get  func(measured) latencies
	}{
		{"start latency", func(x measured) latencies { return x.starts }},
		{"list page of 1,000 runs", func(x measured) latencies { return x.lists }},
	} {
		s := latencyRow(fmt.Sprintf("growth: %s, %s stored", m.name, short(small)), m.get(at[0]))
		l := latencyRow(fmt.Sprintf("growth: %s, %s stored", m.name, short(large)), m.get(at[1]))
		l.vs("same at "+short(small)+" p50", *l.P50Ms, *s.P50Ms, "p50")
		l.target("ratio ≤ 1.30", *l.Ratio, 1.30, true)
		rows = append(rows, s, l)
	}
	rows[0].Note = fmt.Sprintf("store seeded directly (server stopped) in %.1fs", at[0].seed.Seconds())
	rows[2].Note = "GET /v2/actor-runs?desc=1&limit=1000 (the newest 1,000 runs with the total)"
	rows[1].Note = fmt.Sprintf("seeded from %s to %s runs in %.1fs", short(small), short(large), at[1].seed.Seconds())
	return rows, nil
}

// listPages times n GETs of the newest 1,000 runs and checks the total.
func (b *bench) listPages(ctx context.Context, phase string, stored int) (latencies, error) {
	url := b.srv.URL + "/v2/actor-runs?desc=1&limit=1000"
	var l latencies
	n := b.sizes.growthListPages
	for i := -warmups; i < n; i++ {
		b.prog.set(phase, "%d/%d pages", max(i+1, 0), n)
		t0 := time.Now()
		body, err := getBody(ctx, url)
		d := time.Since(t0)
		if err != nil {
			return nil, err
		}
		if i < 0 {
			total, items, err := decodeTotal(body)
			if err != nil {
				return nil, err
			}
			if total < stored || items != min(total, 1000) {
				return nil, fmt.Errorf("list page has %d items of %d runs; want %d of at least %d", items, total, min(total, 1000), stored)
			}
			continue
		}
		l = append(l, d)
	}
	return l, nil
}

// dbPath is the SQLite file of the server's store, or "" when the store is
// not SQLite.
func (b *bench) dbPath() string {
	switch st := b.opts.store; {
	case st == "":
		return filepath.Join(b.srv.dataDir, "troupe.db")
	case strings.HasPrefix(st, "sqlite:"):
		return strings.TrimPrefix(st, "sqlite:")
	}
	return ""
}

func short(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// seedChunk is how many runs one seeding transaction writes.
const seedChunk = 20_000

// seed adds runs to the stopped server's SQLite store until it holds
// target runs. Each new run is a copy of the newest SUCCEEDED run, as the
// store itself wrote it, with new ids and an earlier start: its row, its
// three default storages and its log. Rows are copied column by column
// (whatever columns the tables have now), so the seeding follows schema
// changes; only the overridden columns are named here. The store's own
// triggers keep its counters right.
func (b *bench) seed(ctx context.Context, target int, progress func(done, todo int)) error {
	path := b.dbPath()
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	var have int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs`).Scan(&have); err != nil {
		return err
	}
	todo := target - have
	if todo <= 0 {
		return nil
	}

	var tmplID, tmplData string
	err = db.QueryRowContext(ctx, `SELECT id, data FROM runs WHERE status = 'SUCCEEDED'
		ORDER BY started_at DESC LIMIT 1`).Scan(&tmplID, &tmplData)
	if err != nil {
		return fmt.Errorf("template run: %w", err)
	}
	var tmpl troupe.Run
	if err := json.Unmarshal([]byte(tmplData), &tmpl); err != nil {
		return fmt.Errorf("template run: %w", err)
	}
	var oldest int64
	if err := db.QueryRowContext(ctx, `SELECT MIN(started_at) FROM runs`).Scan(&oldest); err != nil {
		return err
	}

	runs, err := loadTemplate(ctx, db, "runs", "id = ?", tmplID)
	if err != nil {
		return err
	}
	storages, err := loadTemplate(ctx, db, "storages", "id IN (?, ?, ?)",
		tmpl.DefaultDatasetID, tmpl.DefaultKeyValueStoreID, tmpl.DefaultRequestQueueID)
	if err != nil {
		return err
	}
	logs, err := loadTemplate(ctx, db, "logs", "job_id = ?", tmplID)
	if err != nil {
		return err
	}
	if len(runs.rows) != 1 || len(storages.rows) != 3 {
		return fmt.Errorf("template run %s: %d run rows, %d storage rows", tmplID, len(runs.rows), len(storages.rows))
	}
	logs.omit("seq") // numbered by the table

	duration := int64(0)
	if tmpl.FinishedAt != nil {
		duration = tmpl.FinishedAt.Sub(tmpl.StartedAt).Milliseconds()
	}
	for done := 0; done < todo; {
		n := min(seedChunk, todo-done)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		insRun, insStorage, insLog := runs.prepare(ctx, tx), storages.prepare(ctx, tx), logs.prepare(ctx, tx)
		for i := range n {
			k := int64(done + i + 1)
			startMS := oldest - k*1000 // one run a second, before every run there is
			started := time.UnixMilli(startMS).UTC()
			finished := started.Add(time.Duration(duration) * time.Millisecond)
			r := tmpl
			seq := have + done + i
			r.ID = seedID(seq, 'r')
			r.DefaultDatasetID, r.DefaultKeyValueStoreID, r.DefaultRequestQueueID = seedID(seq, 'd'), seedID(seq, 'k'), seedID(seq, 'q')
			r.StorageIDs = troupe.StorageIDs{
				Datasets:       map[string]string{"default": r.DefaultDatasetID},
				KeyValueStores: map[string]string{"default": r.DefaultKeyValueStoreID},
				RequestQueues:  map[string]string{"default": r.DefaultRequestQueueID},
			}
			r.StartedAt, r.FinishedAt = started, &finished
			data, err := json.Marshal(&r)
			if err != nil {
				tx.Rollback()
				return err
			}
			err = insRun.exec(ctx, runs.rows[0], map[string]any{
				// Older than every run there is: creation numbers below them.
				"id": r.ID, "started_at": startMS, "data": string(data), "seq": -int64(seq + 1),
				"default_dataset_id": r.DefaultDatasetID, "default_key_value_store_id": r.DefaultKeyValueStoreID,
				"default_request_queue_id": r.DefaultRequestQueueID,
			})
			for j, row := range storages.rows {
				if err != nil {
					break
				}
				id := map[string]string{
					tmpl.DefaultDatasetID:       r.DefaultDatasetID,
					tmpl.DefaultKeyValueStoreID: r.DefaultKeyValueStoreID,
					tmpl.DefaultRequestQueueID:  r.DefaultRequestQueueID,
				}[storages.value(j, "id").(string)]
				err = insStorage.exec(ctx, row, map[string]any{"id": id, "act_run_id": r.ID,
					"created_at": startMS, "modified_at": startMS, "accessed_at": startMS})
			}
			for _, row := range logs.rows {
				if err != nil {
					break
				}
				err = insLog.exec(ctx, row, map[string]any{"job_id": r.ID})
			}
			if err != nil {
				tx.Rollback()
				return fmt.Errorf("seed run: %w (the store's schema may have changed: update bench/growth.go)", err)
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		done += n
		progress(have+done, target)
	}
	// What the server does when it closes: refresh the planner statistics.
	_, err = db.ExecContext(ctx, `PRAGMA optimize`)
	return err
}

// seedAlphabet is in byte order, so that seedID sorts by seq.
const seedAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// seedID returns a 17-character id of the shape troupe uses whose first
// five characters count up with seq (then one for kind, then random ones).
// Seeded rows then land at the end of every index keyed by an id instead
// of at random places, which makes seeding a million runs several times
// faster; the indexes end up with the same number of entries and depth.
func seedID(seq int, kind byte) string {
	var b [17]byte
	for i := 4; i >= 0; i-- {
		b[i] = seedAlphabet[seq%len(seedAlphabet)]
		seq /= len(seedAlphabet)
	}
	b[5] = kind
	copy(b[6:], troupe.NewID()[:11])
	return string(b[:])
}

// template is the rows of one table that seeded rows copy.
type template struct {
	table string
	cols  []string
	rows  [][]any
	skip  map[string]bool
}

func loadTemplate(ctx context.Context, db *sql.DB, table, where string, args ...any) (*template, error) {
	rows, err := db.QueryContext(ctx, `SELECT * FROM `+table+` WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read template %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	t := &template{table: table, cols: cols, skip: map[string]bool{}}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		t.rows = append(t.rows, vals)
	}
	return t, rows.Err()
}

func (t *template) omit(col string) { t.skip[col] = true }

// value returns column col of template row i.
func (t *template) value(i int, col string) any {
	for j, c := range t.cols {
		if c == col {
			return t.rows[i][j]
		}
	}
	return nil
}

// inserter inserts copies of template rows.
type inserter struct {
	t    *template
	stmt *sql.Stmt
	err  error
}

func (t *template) prepare(ctx context.Context, tx *sql.Tx) *inserter {
	var cols, marks []string
	for _, c := range t.cols {
		if !t.skip[c] {
			cols = append(cols, `"`+c+`"`)
			marks = append(marks, "?")
		}
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+t.table+` (`+strings.Join(cols, ", ")+
		`) VALUES (`+strings.Join(marks, ", ")+`)`)
	return &inserter{t: t, stmt: stmt, err: err}
}

// exec inserts row with the columns in set replaced.
func (in *inserter) exec(ctx context.Context, row []any, set map[string]any) error {
	if in.err != nil {
		return in.err
	}
	args := make([]any, 0, len(row))
	for j, c := range in.t.cols {
		if in.t.skip[c] {
			continue
		}
		if v, ok := set[c]; ok {
			args = append(args, v)
		} else {
			args = append(args, row[j])
		}
	}
	_, err := in.stmt.ExecContext(ctx, args...)
	return err
}
