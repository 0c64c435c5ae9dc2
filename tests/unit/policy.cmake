xo_unit_test(test_policy SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_policy.c
	LIBS xoagent)
