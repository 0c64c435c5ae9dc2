# libFuzzer targets, built only with -DXO_FUZZ=ON and clang, each with
# AddressSanitizer and UBSan.  scripts/fuzz builds them (target fuzz_all)
# into build-fuzz/ and runs every one for a fixed time over its seed corpus
# (tests/fuzz/make_corpus.py) and its regression inputs
# (tests/fuzz/regressions/TARGET/); .ci/run runs scripts/fuzz after the
# tests, so a crash, a leak or a timeout fails CI.  tests/fuzz/README.md
# says what each target covers and how to run one by hand.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
	message(FATAL_ERROR "XO_FUZZ needs clang (CC=clang), not "
		"${CMAKE_C_COMPILER_ID}")
endif()

set(XO_FUZZ_SANITIZERS -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined)
add_custom_target(fuzz_all)

# xo_fuzz_target(NAME SOURCES... LIBS...): the libFuzzer target NAME, from
# tests/fuzz/NAME.c and the parsers' sources (relative to the top of the
# tree).  The sources are compiled into the target rather than linked from
# their rooms' libraries, so that libFuzzer's coverage instrumentation and
# the sanitizers reach them; LIBS are what they call outside themselves.
function(xo_fuzz_target name)
	cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
	list(TRANSFORM F_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/)
	add_executable(${name} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${name}.c
		${F_SOURCES})
	target_include_directories(${name} PRIVATE
		${CMAKE_CURRENT_FUNCTION_LIST_DIR}
		${PROJECT_SOURCE_DIR}/agent
		${PROJECT_SOURCE_DIR}/tests/common
		${PROJECT_SOURCE_DIR}/proto
		${PROJECT_SOURCE_DIR}/client/include)
	target_link_libraries(${name} PRIVATE ${F_LIBS})
	target_compile_options(${name} PRIVATE ${XO_FUZZ_SANITIZERS}
		-fno-omit-frame-pointer)
	target_link_options(${name} PRIVATE ${XO_FUZZ_SANITIZERS})
	add_dependencies(fuzz_all ${name})
endfunction()

# The wire codec: frames as a stream, and every decoder, round-tripped.
xo_fuzz_target(fuzz_proto
	SOURCES tests/common/proto_any.c proto/codec.c proto/errors.c
		proto/msg_login.c proto/msg_add.c proto/msg_doctor.c
		proto/msg_vault.c proto/msg_send.c)

# The browser and paste flows' redirect parsing (agent/login/pure/authz.c).
xo_fuzz_target(fuzz_authz
	SOURCES agent/login/pure/authz.c agent/secret/buf.c
	LIBS PkgConfig::LIBCURL PkgConfig::SODIUM)

# The loopback listener's request (agent/login/pure/request.c) and the
# query it hands to authz_parse_query().
xo_fuzz_target(fuzz_redirect
	SOURCES agent/login/pure/request.c agent/login/pure/authz.c
		agent/secret/buf.c
	LIBS PkgConfig::LIBCURL PkgConfig::SODIUM)

# The config parser (agent/config/pure/ with the presets): the file is
# untrusted text.
xo_fuzz_target(fuzz_config
	SOURCES agent/config/pure/parse.c agent/config/pure/values.c
		agent/config/pure/presets.c agent/config/pure/mailhost.c
		agent/secret/stack.c
		agent/core/log.c
	LIBS PkgConfig::INIH PkgConfig::SODIUM)

# Token and device authorization replies (agent/oauth/pure/reply.c), and
# the doctor's reading of the error they leave (agent/doctor/pure/).
xo_fuzz_target(fuzz_oauth_reply
	SOURCES agent/oauth/pure/reply.c agent/doctor/pure/checks.c
		agent/doctor/pure/report.c agent/config/pure/presets.c
		agent/secret/buf.c agent/secret/secret.c
		agent/secret/wipe_alloc.c
	LIBS xoproto PkgConfig::JANSSON PkgConfig::SODIUM PkgConfig::LIBCURL
		PkgConfig::OPENSSL)

# JWT claims and what the doctor concludes from them.
xo_fuzz_target(fuzz_jwt
	SOURCES agent/doctor/pure/jwt.c agent/doctor/pure/checks.c
		agent/doctor/pure/report.c agent/config/pure/presets.c
		agent/secret/buf.c
	LIBS xoproto PkgConfig::JANSSON PkgConfig::SODIUM)

# What an SMTP or IMAP server says to the doctor's login, and what the
# doctor makes of it (agent/doctor/pure/reply.c).
xo_fuzz_target(fuzz_doctor_reply
	SOURCES agent/doctor/pure/reply.c agent/config/pure/mailhost.c
	LIBS PkgConfig::SODIUM)

# The message xoauth sendmail hands the agent: its header block, addresses,
# the copy that goes out, and a service's error body
# (agent/send/pure/message.c).
xo_fuzz_target(fuzz_message
	SOURCES agent/send/pure/message.c
	LIBS PkgConfig::JANSSON)

# The vault file: its header before any key, and its opening with one:
# the base and the journal of records after it (agent/vault/pure/).
xo_fuzz_target(fuzz_vault
	SOURCES agent/vault/pure/image.c agent/vault/pure/journal.c
		agent/secret/secret.c
	LIBS xoproto PkgConfig::SODIUM)
# Seals the seed files of fuzz_vault under its test keys; a plain program.
add_executable(fuzz_vault_seal ${CMAKE_CURRENT_LIST_DIR}/fuzz_vault_seal.c
	${PROJECT_SOURCE_DIR}/agent/vault/pure/image.c
	${PROJECT_SOURCE_DIR}/agent/vault/pure/journal.c
	${PROJECT_SOURCE_DIR}/agent/secret/secret.c)
target_include_directories(fuzz_vault_seal PRIVATE ${CMAKE_CURRENT_LIST_DIR}
	${PROJECT_SOURCE_DIR}/agent ${PROJECT_SOURCE_DIR}/proto
	${PROJECT_SOURCE_DIR}/client/include)
target_link_libraries(fuzz_vault_seal PRIVATE xoproto PkgConfig::SODIUM)
add_dependencies(fuzz_all fuzz_vault_seal)
