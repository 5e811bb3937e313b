/**
 * Read paths ask before they touch a table: `CREATE TABLE IF NOT EXISTS` on
 * a read would give every room name anyone ever looked up a database file
 * of its own (hardening finding 2). Tables are created by the first write.
 */
export function tableExists(sql: SqlStorage, name: string): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length > 0;
}
