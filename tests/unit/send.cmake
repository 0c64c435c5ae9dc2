xo_unit_test(test_send SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_send.c
	LIBS xo_send_pure)
