-- Tables of this area. (An empty step is valid SQL for SQLite.)
SELECT 1;
