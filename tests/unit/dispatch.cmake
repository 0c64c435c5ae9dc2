# The daemon's request table as dispatch runs it: malformed payloads,
# unknown accounts and a locked agent, for every request type it has.
xo_unit_test(test_dispatch
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dispatch.c
		${CMAKE_CURRENT_LIST_DIR}/loop_client.c
	LIBS xoagent)
