-- Dataset items. seq numbers a dataset's items from 0 in push order, with no
-- gaps (items are never deleted one by one), so a window of items is a range
-- of seq: reads never skip rows with OFFSET. The unique index serves that
-- range in both directions (desc reads walk it backwards) and the cascade
-- from storages. storages.item_count is the next seq and, with
-- clean_item_count, is updated in the push transaction.
CREATE TABLE dataset_items (
	dataset_id TEXT NOT NULL REFERENCES storages (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	data       BLOB NOT NULL
);
CREATE UNIQUE INDEX dataset_items_seq ON dataset_items (dataset_id, seq);

-- Key listings page through a store's records in key order and need only
-- each key and size. The size column comes after the value in the records
-- row, so reading it from the table would walk the overflow pages of every
-- large value; this covering index answers listings without the rows.
CREATE INDEX records_key_size ON records (store_id, key, size);
