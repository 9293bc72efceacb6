-- A run's log chunk can record how many outputs of the run's process (of
-- generation proc_gen) the log holds with it, written in the same insert
-- as the chunk, so a server that adopts the process resumes its output
-- exactly after them. NULL in chunks without a mark (builds, troupe's own
-- lines).
ALTER TABLE logs ADD COLUMN proc_gen INTEGER;
ALTER TABLE logs ADD COLUMN proc_lines INTEGER;
