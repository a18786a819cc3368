"""A C++ toolchain for ppc64le built from Debian's cross compiler.

Debian's g++-powerpc64le-linux-gnu searches its own C and C++ headers first
and /usr/include last, so the architecture-independent headers of the
amd64 -dev packages (Abseil, GoogleTest, yaml-cpp, ...) serve both
architectures. The ppc64el libraries themselves come from the sysroot that
tools/ppc64le_sysroot.sh unpacks from Debian's ppc64el packages.
"""

load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
)
load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")

_TRIPLE = "powerpc64le-linux-gnu"
_GCC_VERSION = "12"

# Where tools/ppc64le_sysroot.sh unpacks the ppc64el libraries.
SYSROOT = "/var/cache/kvmbed/ppc64le-sysroot"
_LIBDIR = SYSROOT + "/usr/lib/" + _TRIPLE

_COMPILE_ACTIONS = [
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.cpp_module_compile,
]

_LINK_ACTIONS = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

def _impl(ctx):
    tools = ["gcc", "ld", "ar", "cpp", "gcov", "nm", "objdump", "strip"]
    tool_paths = [
        tool_path(name = t, path = "/usr/bin/%s-%s" % (_TRIPLE, t))
        for t in tools
    ]
    gcc_cross = "/usr/lib/gcc-cross/%s/%s" % (_TRIPLE, _GCC_VERSION)
    builtin_includes = [
        gcc_cross + "/include",
        "/usr/%s/include" % _TRIPLE,
        "/usr/include",
    ]
    features = [
        feature(
            name = "default_compile_flags",
            enabled = True,
            flag_sets = [
                flag_set(
                    actions = _COMPILE_ACTIONS,
                    flag_groups = [flag_group(flags = [
                        "-U_FORTIFY_SOURCE",
                        "-fstack-protector",
                        "-fno-omit-frame-pointer",
                        "-Wall",
                    ])],
                ),
            ],
        ),
        feature(
            name = "default_link_flags",
            enabled = True,
            flag_sets = [
                flag_set(
                    actions = _LINK_ACTIONS,
                    flag_groups = [flag_group(flags = [
                        "-L" + _LIBDIR,
                        "-Wl,-rpath-link," + _LIBDIR,
                        "-lstdc++",
                        "-lm",
                    ])],
                ),
            ],
        ),
        feature(name = "supports_pic", enabled = True),
        feature(name = "supports_dynamic_linker", enabled = True),
        feature(name = "opt"),
        feature(name = "dbg"),
    ]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = features,
        cxx_builtin_include_directories = builtin_includes,
        toolchain_identifier = "ppc64le-linux-gnu-gcc",
        host_system_name = "x86_64-linux-gnu",
        target_system_name = _TRIPLE,
        target_cpu = "ppc64le",
        target_libc = "glibc",
        compiler = "gcc",
        abi_version = "elfv2",
        abi_libc_version = "glibc",
        tool_paths = tool_paths,
    )

ppc64le_cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {},
    provides = [CcToolchainConfigInfo],
)
