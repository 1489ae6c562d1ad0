//! Translating an OCI `LinuxSeccomp` into a libseccomp filter and exporting its BPF program.
//!
//! Semantics follow runc: unknown syscall names are skipped (profiles list syscalls of every
//! kernel and architecture), rules whose action equals the default are dropped, and a rule whose
//! args name the same index twice becomes one rule per arg (OR) instead of one rule (AND).

use std::io::{Read as _, Seek as _};
use std::path::PathBuf;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};

use super::{CompiledFilter, SeccompError};

/// The seccomp(2) flags for the profile's `flags`.
pub(super) fn filter_flags(profile: &LinuxSeccomp) -> Result<u32, SeccompError> {
    let mut flags = 0u32;
    for flag in profile.flags().iter().flatten() {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            // Only meaningful with a notify listener, which berth does not support.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        } as u32;
    }
    Ok(flags)
}

/// Builds the libseccomp filter and exports it as a program.
pub(super) fn to_filter(
    profile: &LinuxSeccomp,
    flags: u32,
) -> Result<CompiledFilter, SeccompError> {
    let ctx = build_context(profile)?;
    let bytes = export_bpf(&ctx)?;
    CompiledFilter::from_bytes(&bytes, flags).ok_or_else(|| SeccompError::InvalidProfile {
        reason: format!(
            "compiled program has {} bytes: empty, not whole instructions, or over {} instructions",
            bytes.len(),
            super::MAX_INSTRUCTIONS
        ),
    })
}

fn lib_err(op: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let op = op.into();
    move |source| SeccompError::Libseccomp { op, source }
}

fn build_context(profile: &LinuxSeccomp) -> Result<ScmpFilterContext, SeccompError> {
    let default = to_action(
        profile.default_action(),
        profile.default_errno_ret(),
        "defaultAction",
    )?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib_err("create filter"))?;
    // The runtime sets no_new_privs itself when the spec asks; the exported program must not care.
    ctx.set_ctl_nnp(false)
        .map_err(lib_err("disable NNP control"))?;
    for arch in profile.architectures().iter().flatten() {
        add_arch(&mut ctx, *arch)?;
    }
    for (index, rule) in profile.syscalls().iter().flatten().enumerate() {
        add_syscall_rule(&mut ctx, default, index, rule)?;
    }
    Ok(ctx)
}

fn add_arch(ctx: &mut ScmpFilterContext, arch: Arch) -> Result<(), SeccompError> {
    let scmp = to_arch(arch)?;
    let present = ctx
        .is_arch_present(scmp)
        .map_err(lib_err(format!("check architecture {arch:?}")))?;
    if !present {
        ctx.add_arch(scmp)
            .map_err(lib_err(format!("add architecture {arch:?}")))?;
    }
    Ok(())
}

fn add_syscall_rule(
    ctx: &mut ScmpFilterContext,
    default: ScmpAction,
    index: usize,
    rule: &LinuxSyscall,
) -> Result<(), SeccompError> {
    let field = format!("syscalls[{index}].action");
    let action = to_action(rule.action(), rule.errno_ret(), &field)?;
    if action == default {
        return Ok(());
    }
    let comparisons = rule
        .args()
        .iter()
        .flatten()
        .map(|arg| to_compare(arg, index))
        .collect::<Result<Vec<_>, _>>()?;
    for name in rule.names() {
        let Ok(syscall) = ScmpSyscall::from_name(name) else {
            tracing::debug!(syscall = %name, "unknown syscall in seccomp profile; skipped");
            continue;
        };
        add_for_syscall(
            ctx,
            action,
            syscall,
            name,
            rule.args().as_deref().unwrap_or(&[]),
            &comparisons,
        )?;
    }
    Ok(())
}

/// One rule with all comparisons (AND) when every arg index is distinct, else one rule per
/// comparison (OR) — libseccomp cannot AND two comparisons of the same argument.
fn add_for_syscall(
    ctx: &mut ScmpFilterContext,
    action: ScmpAction,
    syscall: ScmpSyscall,
    name: &str,
    args: &[LinuxSeccompArg],
    comparisons: &[ScmpArgCompare],
) -> Result<(), SeccompError> {
    let op = || format!("add rule for {name}");
    let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
    indexes.sort_unstable();
    indexes.dedup();
    if indexes.len() == args.len() {
        ctx.add_rule_conditional(action, syscall, comparisons)
            .map_err(lib_err(op()))?;
        return Ok(());
    }
    for comparison in comparisons {
        ctx.add_rule_conditional(action, syscall, std::slice::from_ref(comparison))
            .map_err(lib_err(op()))?;
    }
    Ok(())
}

fn to_compare(arg: &LinuxSeccompArg, rule: usize) -> Result<ScmpArgCompare, SeccompError> {
    if arg.index() > 5 {
        return Err(SeccompError::InvalidProfile {
            reason: format!(
                "syscalls[{rule}]: argument index {} is above 5",
                arg.index()
            ),
        });
    }
    let index = arg.index() as u32;
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        // OCI: `value` is the mask, `valueTwo` the value the masked argument must equal.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(ScmpArgCompare::new(index, op, datum))
}

fn to_action(
    action: LinuxSeccompAction,
    errno: Option<u32>,
    field: &str,
) -> Result<ScmpAction, SeccompError> {
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            let errno = errno.unwrap_or(libc::EPERM as u32);
            let errno = i32::try_from(errno)
                .ok()
                .filter(|e| *e <= 0xffff)
                .ok_or_else(|| SeccompError::InvalidProfile {
                    reason: format!("{field}: errnoRet {errno} does not fit 16 bits"),
                })?;
            ScmpAction::Errno(errno)
        }
        LinuxSeccompAction::ScmpActTrace => {
            let msg = errno.unwrap_or(libc::EPERM as u32);
            ScmpAction::Trace(
                u16::try_from(msg).map_err(|_| SeccompError::InvalidProfile {
                    reason: format!("{field}: trace message {msg} does not fit 16 bits"),
                })?,
            )
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SeccompError::InvalidProfile {
                reason: format!(
                    "{field}: SCMP_ACT_NOTIFY needs a seccomp agent, which berth does not support"
                ),
            });
        }
    })
}

fn to_arch(arch: Arch) -> Result<ScmpArch, SeccompError> {
    Ok(match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        other => {
            return Err(SeccompError::InvalidProfile {
                reason: format!("architecture {other:?} is not supported by this libseccomp"),
            });
        }
    })
}

/// libseccomp writes the program to a file descriptor; a memfd keeps it off disk and has no
/// pipe-buffer limit.
fn export_bpf(ctx: &ScmpFilterContext) -> Result<Vec<u8>, SeccompError> {
    let memfd_path = PathBuf::from("memfd:berth-seccomp");
    let io_err = |op| {
        let path = memfd_path.clone();
        move |source| SeccompError::Io { op, path, source }
    };
    let fd =
        nix::sys::memfd::memfd_create(c"berth-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| io_err("memfd_create")(std::io::Error::from(e)))?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file).map_err(lib_err("export BPF"))?;
    file.rewind().map_err(io_err("rewind"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_err("read"))?;
    Ok(bytes)
}
