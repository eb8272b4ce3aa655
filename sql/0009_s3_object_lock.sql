-- Object Lock retention of an S3 repository's points, in days (NULL: none).
ALTER TABLE repositories ADD COLUMN s3_object_lock_days INTEGER
    CHECK (s3_object_lock_days IS NULL OR s3_object_lock_days BETWEEN 1 AND 36500);
