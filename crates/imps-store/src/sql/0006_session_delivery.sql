-- How a session takes messages ('P' push, 'N' notify/get), as the client
-- last chose; NULL when it never said. A restart brings it back, so a
-- notify/get client is not pushed to after it.
ALTER TABLE sessions ADD COLUMN delivery_method TEXT;
