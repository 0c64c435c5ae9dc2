# pam_xoauth's module arguments and socket paths (contrib/pam/options.c);
# only when the PAM module is built.
if(TARGET pam_xoauth_core)
	xo_unit_test(test_pam_options
		SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pam_options.c
		LIBS pam_xoauth_core)
endif()
