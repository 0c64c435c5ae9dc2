xo_unit_test(test_buf SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_buf.c
	LIBS xo_secret)
# malloc() and free() are wrapped so the tests know every block the buffer
# allocates and can prove each is wiped before it is released.
target_link_options(test_buf PRIVATE "LINKER:--wrap=malloc"
	"LINKER:--wrap=free")
