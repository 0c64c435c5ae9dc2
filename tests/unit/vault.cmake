xo_unit_test(test_vault SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vault.c
	LIBS xoagent)
