# The wire codec: round trips, and rejection of truncated, oversized,
# unknown and malformed frames (see proto/PROTOCOL.md).
xo_unit_test(test_proto
	SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_proto.c
		${PROJECT_SOURCE_DIR}/tests/common/proto_any.c
	LIBS xoproto)
target_include_directories(test_proto PRIVATE
	${PROJECT_SOURCE_DIR}/tests/common)
