xo_unit_test(test_vault_names SOURCES
	${CMAKE_CURRENT_LIST_DIR}/test_vault_names.c LIBS xoagent)
