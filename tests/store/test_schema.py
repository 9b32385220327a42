

def test_connections_use_a_small_page_cache(tmp_path):
    """Every store connection caps SQLite's page cache at PAGE_CACHE_KIB (memory target)."""
    from lavad.store.schema import PAGE_CACHE_KIB, connect
    conn = connect(str(tmp_path / "c.db"))
    try:
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -PAGE_CACHE_KIB
    finally:
        conn.close()
