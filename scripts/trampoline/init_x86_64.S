# SPDX-License-Identifier: Apache-2.0
# ward's init (x86_64): pid 1 of a sandbox's new pid namespace under
# Sandbox::init_process; see include/ward/detail/exec_trampoline.hpp for why
# it is a program of its own. Generated into that header by
# scripts/gen_trampoline.py.
#
#   argv: "" <status fd> <program pid>
#
# 1. PR_SET_DUMPABLE 0: the container cannot ptrace it nor read its /proc
#    files (mem, environ, fd). If that fails, the program is killed and the
#    init exits 127 without a status (the parent reports the init's end).
# 2. Refuse to run unless argv[0] is "" (no "#!" line names an empty
#    interpreter): exit 127.
# 3. Every signal blocked (they are taken with rt_sigtimedwait); every
#    descriptor but the status fd closed.
# 4. Loop: reap every child (wait4 -1, WNOHANG, __WALL); when the program
#    is reaped, write its wait status (4 bytes) on the status fd and
#    exit_group(0); the namespace dies with us. Else wait for a signal:
#    SIGCHLD reaps again, any other is sent on to the program (kill).
	.text
	.globl _start
_start:
	mov	(%rsp), %r12		# argc
	lea	8(%rsp), %r13		# argv
	mov	$157, %eax		# prctl(PR_SET_DUMPABLE, 0)
	mov	$4, %edi
	xor	%esi, %esi
	syscall
	mov	%rax, %rbx		# its result, checked once the pid is known
	cmp	$3, %r12
	jb	die
	mov	(%r13), %rax
	cmpb	$0, (%rax)
	jne	die
	mov	8(%r13), %rsi		# status fd, decimal
	call	number
	mov	%eax, %r15d
	mov	16(%r13), %rsi		# program pid, decimal
	call	number
	mov	%eax, %r14d
	test	%r14d, %r14d
	jz	die
	test	%rbx, %rbx		# not non-dumpable: never run so
	jz	1f
	mov	$62, %eax		# kill(program, SIGKILL)
	mov	%r14d, %edi
	mov	$9, %esi
	syscall
	jmp	die
1:	sub	$256, %rsp		# 0: sigset, 8: wait status, 16: siginfo (128)
	movq	$-1, (%rsp)
	mov	$14, %eax		# rt_sigprocmask(SIG_SETMASK, all, 0, 8)
	mov	$2, %edi
	mov	%rsp, %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall
	test	%r15d, %r15d		# close_range(0, fd - 1, 0)
	jz	2f
	mov	$436, %eax
	xor	%edi, %edi
	lea	-1(%r15), %esi
	xor	%edx, %edx
	syscall
2:	mov	$436, %eax		# close_range(fd + 1, ~0U, 0)
	lea	1(%r15), %edi
	mov	$-1, %esi
	xor	%edx, %edx
	syscall
reap:	mov	$61, %eax		# wait4(-1, &status, WNOHANG | __WALL, 0)
	mov	$-1, %edi
	lea	8(%rsp), %rsi
	mov	$0x40000001, %edx
	xor	%r10d, %r10d
	syscall
	cmp	%r14, %rax
	je	done
	test	%rax, %rax
	jg	reap			# an orphan: reaped, look again
	cmp	$-10, %rax		# ECHILD: the program is gone unreported
	je	die
wait:	mov	$128, %eax		# rt_sigtimedwait(all, &info, 0, 8)
	mov	%rsp, %rdi
	lea	16(%rsp), %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall
	cmp	$17, %rax		# SIGCHLD: reap
	je	reap
	test	%rax, %rax
	jle	wait			# EINTR (after a stop)
	mov	%rax, %rsi		# anything else: on to the program
	mov	$62, %eax
	mov	%r14d, %edi
	syscall
	jmp	wait
done:	mov	$1, %eax		# write(fd, &status, 4)
	mov	%r15d, %edi
	lea	8(%rsp), %rsi
	mov	$4, %edx
	syscall
	mov	$231, %eax		# exit_group(0)
	xor	%edi, %edi
	syscall
	hlt
die:	mov	$231, %eax		# exit_group(127)
	mov	$127, %edi
	syscall
	hlt
# %rsi: a decimal string -> %eax (0 when empty or not a number: die)
number:	xor	%eax, %eax
	movzbl	(%rsi), %ecx
	test	%ecx, %ecx
	jz	die
3:	movzbl	(%rsi), %ecx
	test	%ecx, %ecx
	jz	4f
	sub	$48, %ecx
	cmp	$9, %ecx
	ja	die
	imul	$10, %eax, %eax
	add	%ecx, %eax
	inc	%rsi
	jmp	3b
4:	ret
	.section .note.GNU-stack,"",@progbits
