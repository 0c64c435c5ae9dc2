xo_unit_test(test_config_pairs
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config_pairs.c LIBS xoagent)
