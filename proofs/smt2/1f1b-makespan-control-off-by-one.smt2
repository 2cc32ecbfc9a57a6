; chimera-verify certificate: 1f1b-makespan-control-off-by-one
; claim: the 1F1B unit-slot makespan is 2(N + D - 1) - 1
; formula: forall D>=1, N>=D: max slot + 1 = 2(N + D - 1) - 1
; scope: every D >= 1 and N >= D
; expected: sat (REFUTED: the claim fails; a model is a counterexample)
; negative control of: 1f1b-makespan
; assertions: parameter domain, sound product lemmas, negated claim
(set-info :smt-lib-version 2.6)
(set-logic QF_LIA)
(declare-fun D () Int)
(declare-fun N () Int)
(declare-fun a_fwd () Bool)
(declare-fun a_j () Int)
(declare-fun a_slot () Int)
(declare-fun last_slot () Int)
(declare-fun makespan () Int)
(declare-fun w () Int)
(assert (>= D 1))
(assert (>= N D))
(assert (>= w 0))
(assert (< w D))
(assert (= makespan (+ (* 2 (- (+ N D) 1)) (- 1))))
(assert (>= a_j 0))
(assert (< a_j N))
(assert (= a_slot (ite a_fwd (ite (<= (+ a_j w) (- D 1)) (+ a_j w) (+ (* 2 a_j) w)) (+ (- (- (* 2 D) 1) w) (* 2 a_j)))))
(assert (= last_slot (+ (- (- (* 2 D) 1) 0) (* 2 (- N 1)))))
(assert (or (< a_slot 0) (>= a_slot makespan) (distinct last_slot (- makespan 1))))
(check-sat)
(exit)
