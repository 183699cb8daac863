-- How the client reads what we send, learned from its own requests
-- (issue 13): bare_ids = 1 when it logged in with a UserID without a
-- domain (home-domain IDs then go out without `@domain`); android_engine
-- = 1 when its ClientCapability showed the Android engine, which gets the
-- shapes that engine reads (joined-user lists, 1.3 GetList, reactive
-- authorization). A restart keeps both, so the client sees the same forms.
ALTER TABLE sessions ADD COLUMN bare_ids INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN android_engine INTEGER NOT NULL DEFAULT 0;
