-- Where the server wakes a session by itself (issue 20): UDP or SMS CIR,
-- as the method name, a space and the address or number. NULL: no such
-- target (TCP or HTTP CIR, WebSocket, polling). A restart restores it so
-- a phone that holds no connection is still woken.
ALTER TABLE sessions ADD COLUMN cir_target TEXT;
