package actorproject

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
)

// Dockerfile is what troupe takes from an actor's Dockerfile: the start
// command (ENTRYPOINT + CMD, in exec or shell form), ENV variables (name,
// value) and base image (From) of the last stage.
type Dockerfile struct {
	// From is the image the last stage starts FROM, with a stage name
	// resolved to that stage's image and the ARGs declared before the first
	// FROM replaced by their defaults; "" without FROM.
	From       string
	Entrypoint []string
	Cmd        []string
	Env        [][2]string
}

// ParseDockerfile reads the instructions troupe honours. Line continuations
// and comments are handled; other instructions are ignored (a local build
// has no image to FROM, COPY into or RUN in).
func ParseDockerfile(src string) Dockerfile {
	var d Dockerfile
	args := map[string]string{} // ARGs before the first FROM
	stages := map[string]string{}
	seenFrom := false
	for _, ins := range instructions(src) {
		word, rest, _ := strings.Cut(ins, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "CMD":
			d.Cmd = commandForm(rest)
		case "ENTRYPOINT":
			d.Entrypoint = commandForm(rest)
			d.Cmd = nil // as in Docker: a new ENTRYPOINT resets CMD
		case "ENV":
			d.Env = append(d.Env, envPairs(rest)...)
		case "ARG":
			if !seenFrom {
				name, def, _ := strings.Cut(rest, "=")
				args[strings.TrimSpace(name)] = strings.Trim(strings.TrimSpace(def), `"'`)
			}
		case "FROM":
			// A new stage starts afresh.
			seenFrom = true
			d = Dockerfile{From: fromImage(rest, args, stages)}
		}
	}
	return d
}

// fromImage returns the image of a FROM instruction's arguments
// ("[--platform=…] image [AS name]"), recording a named stage in stages.
func fromImage(rest string, args, stages map[string]string) string {
	var words []string
	for _, w := range strings.Fields(rest) {
		if !strings.HasPrefix(w, "--") {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return ""
	}
	image := os.Expand(words[0], func(name string) string { return args[name] })
	if base, ok := stages[strings.ToLower(image)]; ok {
		image = base
	}
	if len(words) == 3 && strings.EqualFold(words[1], "AS") {
		stages[strings.ToLower(words[2])] = image
	}
	return image
}

// Command returns the argv the Dockerfile starts, or nil.
func (d Dockerfile) Command() []string {
	if len(d.Entrypoint) == 0 && len(d.Cmd) == 0 {
		return nil
	}
	return append(append([]string{}, d.Entrypoint...), d.Cmd...)
}

func instructions(src string) []string {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue // comment inside a continued instruction
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		out = append(out, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

// commandForm parses the exec form (a JSON array) or the shell form (run
// with /bin/sh -c).
func commandForm(s string) []string {
	if strings.HasPrefix(s, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(s), &argv); err == nil {
			return argv
		}
	}
	if s == "" {
		return nil
	}
	return []string{"/bin/sh", "-c", s}
}

// envPairs parses `ENV K=V K2="V 2"` and the legacy `ENV K V`.
func envPairs(s string) [][2]string {
	if !strings.Contains(strings.SplitN(s, " ", 2)[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}
	}
	var out [][2]string
	for _, w := range shellWords(s) {
		if k, v, ok := strings.Cut(w, "="); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// shellWords splits on spaces outside double or single quotes and removes
// the quotes and escapes as Docker does: outside quotes a backslash escapes
// any character; in double quotes only ", \ and $ (other backslashes stay);
// in single quotes nothing.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord, escaped := false, false
	for _, c := range s {
		switch {
		case escaped:
			if quote == '"' && c != '"' && c != '\\' && c != '$' {
				cur.WriteByte('\\')
			}
			cur.WriteRune(c)
			escaped = false
		case c == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, inWord = c, true
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}
