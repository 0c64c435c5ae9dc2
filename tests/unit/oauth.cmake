xo_unit_test(test_oauth SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_oauth.c
	LIBS xoagent)
