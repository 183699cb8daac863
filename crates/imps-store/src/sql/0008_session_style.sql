-- How the client reads what we send, learned from its own requests
-- (issue 13): bare_ids = 1 when it logged in with a UserID without a
-- domain (home-domain IDs then go out without `@domain`); flat_member_lists
-- = 1 when its engine reads joined-user lists as UserMapList{Mapping*} in
-- every version. A restart keeps both, so the client sees the same forms.
ALTER TABLE sessions ADD COLUMN bare_ids INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN flat_member_lists INTEGER NOT NULL DEFAULT 0;
