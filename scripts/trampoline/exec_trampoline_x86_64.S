# SPDX-License-Identifier: Apache-2.0
# ward's exec trampoline (x86_64): see include/ward/detail/exec_trampoline.hpp
# for why it exists. Generated into that header by scripts/gen_trampoline.py.
#
#   argv: "" <report fd> <candidate>... "" <program argv>...
#
# 1. PR_SET_DUMPABLE 0: nothing of this process (the report pipe to the
#    runtime) is open to the container until the program's execve, which
#    decides dumpability again. If it fails (a seccomp agent can answer a
#    notified prctl with an error), the program is not run: the failure is
#    reported as an exec failure of "prctl(PR_SET_DUMPABLE)" (test:
#    tests/root/seccomp_listener_test.cpp, "... PR_SET_DUMPABLE ...").
# 2. Refuse to run unless argv[0] is "": that is how ward calls it, and no
#    "#!" line can name an empty interpreter (binfmt_script: ENOEXEC), so the
#    trampoline run as an interpreter (#!/proc/self/exe) exits 127.
# 3. The report fd becomes close-on-exec; execve each candidate in turn with
#    execvp's rules (ENOENT/ENOTDIR/EACCES go on); on failure, one 256-byte
#    Msg {kind 7, 0, errno, 0, path} on the report fd; exit_group(127).
	.text
	.globl _start
_start:
	mov	(%rsp), %r12		# argc
	lea	8(%rsp), %r13		# argv
	lea	16(%rsp,%r12,8), %r14	# envp
	mov	$157, %eax		# prctl(PR_SET_DUMPABLE, 0)
	mov	$4, %edi
	xor	%esi, %esi
	syscall
	mov	%rax, %r9		# its result, reported once the fd is known
	cmp	$4, %r12
	jb	die
	mov	(%r13), %rax
	cmpb	$0, (%rax)
	jne	die
	mov	8(%r13), %rsi		# report fd, decimal
	xor	%r15d, %r15d
1:	movzbl	(%rsi), %eax
	test	%eax, %eax
	jz	2f
	sub	$48, %eax
	cmp	$9, %eax
	ja	die
	imul	$10, %r15d, %r15d
	add	%eax, %r15d
	inc	%rsi
	jmp	1b
2:	mov	$72, %eax		# fcntl(fd, F_SETFD, FD_CLOEXEC)
	mov	%r15d, %edi
	mov	$2, %esi
	mov	$1, %edx
	syscall
	test	%r9, %r9		# prctl failed (a seccomp agent's answer):
	jz	11f			# report it, never run the program dumpable
	mov	%r9, %r12
	lea	dumpable(%rip), %r8
	jmp	8f
11:	lea	16(%r13), %rbx		# first candidate
	mov	%rbx, %rbp
3:	mov	(%rbp), %rax		# find the "" that ends the candidates
	test	%rax, %rax
	jz	die
	cmpb	$0, (%rax)
	je	4f
	add	$8, %rbp
	jmp	3b
4:	lea	8(%rbp), %rbp		# rbp: the program's argv
	mov	$-2, %r12		# err = -ENOENT
	xor	%r13d, %r13d		# saw EACCES
	mov	(%rbx), %r8		# the path to report
5:	mov	(%rbx), %rdi
	cmpb	$0, (%rdi)
	je	7f
	mov	%rdi, %r8
	mov	$59, %eax		# execve(cand, argv, envp)
	mov	%rbp, %rsi
	mov	%r14, %rdx
	syscall
	mov	%rax, %r12
	add	$8, %rbx
	cmp	$-13, %rax		# EACCES: remember, go on
	jne	6f
	mov	$1, %r13d
	jmp	5b
6:	cmp	$-2, %rax		# ENOENT, ENOTDIR: go on; else final
	je	5b
	cmp	$-20, %rax
	je	5b
	jmp	8f
7:	test	%r13d, %r13d		# all tried
	jz	8f
	mov	$-13, %r12
8:	sub	$256, %rsp		# struct Msg, zeroed
	mov	%rsp, %rdi
	xor	%eax, %eax
	mov	$256, %ecx
	rep stosb
	movl	$7, (%rsp)		# kMsgExecFailed
	mov	%r12, %rax
	neg	%eax
	movl	%eax, 8(%rsp)
	lea	16(%rsp), %rdi
	mov	$239, %ecx
9:	movzbl	(%r8), %eax
	test	%eax, %eax
	jz	10f
	mov	%al, (%rdi)
	inc	%r8
	inc	%rdi
	dec	%ecx
	jnz	9b
10:	mov	$1, %eax		# write(fd, msg, 256)
	mov	%r15d, %edi
	mov	%rsp, %rsi
	mov	$256, %edx
	syscall
die:	mov	$231, %eax		# exit_group(127)
	mov	$127, %edi
	syscall
	hlt
dumpable:
	.asciz	"prctl(PR_SET_DUMPABLE)"
	.section .note.GNU-stack,"",@progbits
