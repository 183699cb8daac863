-- An SSP peer entry added at run time may require the peer's client
-- certificate (`impsd peer add --require-client-cert`, issue 17), as a
-- config file entry can. Entries stored before keep not requiring one.
ALTER TABLE federation_peers ADD COLUMN require_client_cert INTEGER NOT NULL DEFAULT 0;
