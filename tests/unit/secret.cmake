# Sealed secrets, the shield's key and its scratch arena (secret/secret.c).
xo_unit_test(test_secret SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_secret.c
	LIBS xo_secret)
