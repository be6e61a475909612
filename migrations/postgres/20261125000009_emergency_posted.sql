-- When an emergency's activation (group called, checklist posted) or offer was carried out; until
-- then the emergency loop carries it out again, so a crash in between loses nothing.
ALTER TABLE emergencies ADD COLUMN posted_at BIGINT;
