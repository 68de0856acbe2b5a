# Every third-party dependency is found here, from Debian's packages
# (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(Catch2 2 REQUIRED)
find_package(OpenSSL REQUIRED)   # SHA-224 for Calico's selector unique ids

pkg_check_modules(Z3 REQUIRED IMPORTED_TARGET z3)
pkg_check_modules(NFTNL REQUIRED IMPORTED_TARGET libnftnl)
pkg_check_modules(MNL REQUIRED IMPORTED_TARGET libmnl)
pkg_check_modules(LIBYAML REQUIRED IMPORTED_TARGET yaml-0.1)  # the loader's YAML/JSON parser

# ANTLR4: Debian ships the tool (antlr4, 4.7.2) and the C++ runtime (4.9).
find_program(ANTLR4_TOOL antlr4 REQUIRED)
find_path(ANTLR4_INCLUDE_DIR antlr4-runtime.h PATH_SUFFIXES antlr4-runtime REQUIRED)
find_library(ANTLR4_RUNTIME_LIB antlr4-runtime REQUIRED)
add_library(antlr4_runtime INTERFACE)
# SYSTEM: the runtime's headers warn under g++ 12 and must not break -Werror.
target_include_directories(antlr4_runtime SYSTEM INTERFACE ${ANTLR4_INCLUDE_DIR})
target_link_libraries(antlr4_runtime INTERFACE ${ANTLR4_RUNTIME_LIB})

if(RAMPART_BENCH)
  find_package(benchmark REQUIRED)
endif()
