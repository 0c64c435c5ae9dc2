xo_unit_test(test_authz SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_authz.c
	LIBS xoagent)
