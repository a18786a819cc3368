"""Tests that need KVM: they run on every x86 machine.

kvm_cc_test and kvm_sh_test wrap a test in tools/kvm_test.sh, which runs it
directly where the machine has VMX or SVM KVM and otherwise inside a nested
L1 under QEMU TCG (tools/nested_kvm.sh), where kvm_amd is real. Both are
tagged "kvm" (select them with --test_tag_filters=kvm) and "exclusive": one
at a time, so the L1 or the pinned vCPU threads have the machine's CPUs to
themselves. Their timeout is Bazel's "long" (900 s) unless given: under TCG
a test runs tens of times slower than on real KVM.
"""

_RUNNER = "//tools:kvm_test.sh"
_RUNNER_DATA = [_RUNNER, "//tools:kvm_flavour.sh", "//tools:nested_kvm.sh"]

def _kvm_tags(tags):
    return [t for t in (tags or []) if t not in ("kvm", "exclusive")] + ["kvm", "exclusive"]

def kvm_cc_test(name, srcs, deps, data = [], args = [], timeout = "long", tags = [], **kwargs):
    """A GoogleTest binary that needs /dev/kvm."""
    native.cc_binary(
        name = name + "_bin",
        srcs = srcs,
        deps = deps,
        data = data,
        testonly = 1,
        visibility = ["//visibility:private"],
        **kwargs
    )
    native.sh_test(
        name = name,
        srcs = [_RUNNER],
        args = ["$(location :%s_bin)" % name] + args,
        data = [":" + name + "_bin"] + _RUNNER_DATA + data,
        timeout = timeout,
        tags = _kvm_tags(tags),
    )

def kvm_sh_test(name, srcs, data = [], args = [], timeout = "long", tags = [], **kwargs):
    """A shell test that needs /dev/kvm; srcs is its one script."""
    if len(srcs) != 1:
        fail("kvm_sh_test takes exactly one script in srcs")
    native.sh_test(
        name = name,
        srcs = [_RUNNER],
        args = ["$(location %s)" % srcs[0]] + args,
        data = srcs + data + _RUNNER_DATA,
        timeout = timeout,
        tags = _kvm_tags(tags),
        **kwargs
    )
