-- Our users joined to groups hosted in a peer domain, per session
-- (issue 17): the host is told they left when the session ends, also
-- after a restart of this server.
CREATE TABLE remote_group_joins (
    session_id TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    group_id   TEXT COLLATE "C" NOT NULL,
    peer       TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (session_id, group_id)
);
CREATE INDEX remote_group_joins_by_user ON remote_group_joins (user_id, group_id);

-- The group a group invitation from another domain names (the invites
-- table refers only to groups of ours).
CREATE TABLE remote_invite_groups (
    invite_id TEXT COLLATE "C" NOT NULL,
    invitee   TEXT COLLATE "C" NOT NULL,
    group_id  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (invite_id, invitee)
);
