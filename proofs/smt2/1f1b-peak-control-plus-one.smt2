; chimera-verify certificate: 1f1b-peak-control-plus-one
; claim: worker w of 1F1B holds D - w + 1 activations at slot 2D - 1 - w
; formula: forall D>=1, N>=D, w: max_t inflight(w, t) = D - w + 1
; scope: every D >= 1, N >= D and worker w
; expected: sat (REFUTED: the claim fails; a model is a counterexample)
; negative control of: 1f1b-peak
; assertions: parameter domain, sound product lemmas, negated claim
(set-info :smt-lib-version 2.6)
(set-logic QF_LIA)
(declare-fun D () Int)
(declare-fun N () Int)
(declare-fun bound () Int)
(declare-fun hi () Int)
(declare-fun j () Int)
(declare-fun lo () Int)
(declare-fun t () Int)
(declare-fun t_star () Int)
(declare-fun w () Int)
(assert (>= D 1))
(assert (>= N D))
(assert (>= w 0))
(assert (< w D))
(assert (= bound (+ (- D w) 1)))
(assert (>= lo 0))
(assert (< lo N))
(assert (>= hi lo))
(assert (< hi N))
(assert (= t_star (+ (- (- (* 2 D) 1) w) 0)))
(assert (>= j 0))
(assert (or (and (and (<= (ite (<= (+ lo w) (- D 1)) (+ lo w) (+ (* 2 lo) w)) t) (<= t (+ (- (- (* 2 D) 1) w) (* 2 lo)))) (and (<= (ite (<= (+ hi w) (- D 1)) (+ hi w) (+ (* 2 hi) w)) t) (<= t (+ (- (- (* 2 D) 1) w) (* 2 hi)))) (> (+ (- hi lo) 1) bound)) (and (< j bound) (or (>= j N) (not (and (<= (ite (<= (+ j w) (- D 1)) (+ j w) (+ (* 2 j) w)) t_star) (<= t_star (+ (- (- (* 2 D) 1) w) (* 2 j)))))))))
(check-sat)
(exit)
