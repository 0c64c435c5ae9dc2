xo_unit_test(test_doctor SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_doctor.c
	LIBS xoagent)
