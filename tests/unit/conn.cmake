# The core alone: a connection's framing, limits and back-pressure, and the
# waiters, through a socketpair and a request table of the test's own.
xo_unit_test(test_conn
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_conn.c
		${CMAKE_CURRENT_LIST_DIR}/loop_client.c
	LIBS xo_core)
