-- When a schedule is changed, slots of the old schedule before the change must not be caught up
-- at the next start. That horizon used to be written into last_run_at, so a job that never ran
-- showed a lastRunTime (issue 12); it has a column of its own now.
ALTER TABLE schedules ADD COLUMN handled_until INTEGER;
