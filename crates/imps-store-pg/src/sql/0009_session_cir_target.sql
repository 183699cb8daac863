-- Where the server wakes a session by itself (issue 20): UDP or SMS CIR,
-- as the method name, a space and the address or number. NULL: none.
ALTER TABLE sessions ADD COLUMN cir_target TEXT;
