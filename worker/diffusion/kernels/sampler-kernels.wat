;; The samplers' per-value loops, four values per instruction (WebAssembly SIMD). A sampler
;; works out its step's coefficients in TypeScript and hands the loop over its latent to one
;; of these (through SamplerScratch, sampler-scratch.ts). Each runs on the main thread between
;; two UNet calls, on the device's critical path.
;;
;; Every operation is one float32 operation in the order diffusers' float32 tensors take, which
;; is what the TypeScript wrote as Math.fround of each step (a float64 operation on float32
;; values rounded once gives the float32 result): same bits. `kind` is the prediction type
;; (0 epsilon, 1 v_prediction, 2 sample). Addresses are byte offsets; `n` is the value count
;; rounded up to a multiple of 4 (the scratch regions are padded for it).
;;
;; Built into sampler-kernels.wasm by `npm run build:kernels`; a test checks the two agree.
(module
  (import "env" "memory" (memory 1))

  ;; Euler (and Euler ancestral with $hasNoise): x0 into $x0s, then
  ;; x + (x - x0) / sigma * dt (+ noise * sigmaUp) into $s.
  (func (export "euler")
    (param $kind i32) (param $s i32) (param $m i32) (param $x0s i32) (param $noise i32) (param $hasNoise i32) (param $n i32)
    (param $sigma f32) (param $dt f32) (param $vIn f32) (param $vSkip f32) (param $up f32)
    (local $end i32) (local $x v128) (local $mm v128) (local $x0 v128) (local $out v128)
    (local $sg v128) (local $dtv v128) (local $vi v128) (local $vs v128) (local $upv v128)
    (local.set $sg (f32x4.splat (local.get $sigma)))
    (local.set $dtv (f32x4.splat (local.get $dt)))
    (local.set $vi (f32x4.splat (local.get $vIn)))
    (local.set $vs (f32x4.splat (local.get $vSkip)))
    (local.set $upv (f32x4.splat (local.get $up)))
    (local.set $end (i32.add (local.get $s) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $s) (local.get $end)))
      (local.set $x (v128.load (local.get $s)))
      (local.set $mm (v128.load (local.get $m)))
      (local.set $x0
        (if (result v128) (i32.eqz (local.get $kind))
          (then (f32x4.sub (local.get $x) (f32x4.mul (local.get $sg) (local.get $mm))))
          (else (if (result v128) (i32.eq (local.get $kind) (i32.const 1))
            (then (f32x4.add (f32x4.mul (local.get $mm) (local.get $vi)) (f32x4.div (local.get $x) (local.get $vs))))
            (else (local.get $mm))))))
      (v128.store (local.get $x0s) (local.get $x0))
      (local.set $out (f32x4.add (local.get $x)
        (f32x4.mul (f32x4.div (f32x4.sub (local.get $x) (local.get $x0)) (local.get $sg)) (local.get $dtv))))
      (if (local.get $hasNoise) (then
        (local.set $out (f32x4.add (local.get $out) (f32x4.mul (v128.load (local.get $noise)) (local.get $upv))))
        (local.set $noise (i32.add (local.get $noise) (i32.const 16)))))
      (v128.store (local.get $s) (local.get $out))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (local.set $m (i32.add (local.get $m) (i32.const 16)))
      (local.set $x0s (i32.add (local.get $x0s) (i32.const 16)))
      (br $next))))

  ;; The alpha-form x0 of DDIM and LCM, clamped to [-clip, clip] (clip is Inf when off).
  (func $alphaX0 (param $kind i32) (param $x v128) (param $mm v128) (param $sqrtA v128) (param $sqrtB v128) (param $clip v128) (result v128)
    (f32x4.min (local.get $clip) (f32x4.max (f32x4.neg (local.get $clip))
      (if (result v128) (i32.eqz (local.get $kind))
        (then (f32x4.div (f32x4.sub (local.get $x) (f32x4.mul (local.get $sqrtB) (local.get $mm))) (local.get $sqrtA)))
        (else (if (result v128) (i32.eq (local.get $kind) (i32.const 1))
          (then (f32x4.sub (f32x4.mul (local.get $sqrtA) (local.get $x)) (f32x4.mul (local.get $sqrtB) (local.get $mm))))
          (else (local.get $mm))))))))

  ;; DDIM with eta 0: x0 into $x0s, then sqrt(alpha_prev) x0 + sqrt(1 - alpha_prev) eps into $s,
  ;; with eps the unclipped one (diffusers recomputes it only with use_clipped_model_output).
  (func (export "ddim")
    (param $kind i32) (param $s i32) (param $m i32) (param $x0s i32) (param $n i32)
    (param $a f32) (param $b f32) (param $aPrev f32) (param $dir f32) (param $clipValue f32)
    (local $end i32) (local $x v128) (local $mm v128) (local $x0 v128) (local $eps v128)
    (local $sqrtA v128) (local $sqrtB v128) (local $sqrtAPrev v128) (local $dirCoeff v128) (local $clip v128)
    (local.set $sqrtA (f32x4.splat (local.get $a)))
    (local.set $sqrtB (f32x4.splat (local.get $b)))
    (local.set $sqrtAPrev (f32x4.splat (local.get $aPrev)))
    (local.set $dirCoeff (f32x4.splat (local.get $dir)))
    (local.set $clip (f32x4.splat (local.get $clipValue)))
    (local.set $end (i32.add (local.get $s) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $s) (local.get $end)))
      (local.set $x (v128.load (local.get $s)))
      (local.set $mm (v128.load (local.get $m)))
      (local.set $eps
        (if (result v128) (i32.eqz (local.get $kind))
          (then (local.get $mm))
          (else (if (result v128) (i32.eq (local.get $kind) (i32.const 1))
            (then (f32x4.add (f32x4.mul (local.get $sqrtA) (local.get $mm)) (f32x4.mul (local.get $sqrtB) (local.get $x))))
            (else (f32x4.div (f32x4.sub (local.get $x) (f32x4.mul (local.get $sqrtA) (local.get $mm))) (local.get $sqrtB)))))))
      (local.set $x0 (call $alphaX0 (local.get $kind) (local.get $x) (local.get $mm) (local.get $sqrtA) (local.get $sqrtB) (local.get $clip)))
      (v128.store (local.get $x0s) (local.get $x0))
      (v128.store (local.get $s) (f32x4.add (f32x4.mul (local.get $sqrtAPrev) (local.get $x0)) (f32x4.mul (local.get $dirCoeff) (local.get $eps))))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (local.set $m (i32.add (local.get $m) (i32.const 16)))
      (local.set $x0s (i32.add (local.get $x0s) (i32.const 16)))
      (br $next))))

  ;; LCM: the denoised estimate c_out x0 + c_skip x into $denoised, re-noised to the next
  ;; timestep (sqrt(alpha_prev) d + sqrt(1 - alpha_prev) noise) into $s, or d itself without noise.
  (func (export "lcm")
    (param $kind i32) (param $s i32) (param $m i32) (param $denoised i32) (param $noise i32) (param $hasNoise i32) (param $n i32)
    (param $a f32) (param $b f32) (param $aPrev f32) (param $bPrev f32) (param $skip f32) (param $outC f32) (param $clipValue f32)
    (local $end i32) (local $x v128) (local $d v128)
    (local $sqrtA v128) (local $sqrtB v128) (local $sqrtAPrev v128) (local $sqrtBPrev v128) (local $cSkip v128) (local $cOut v128) (local $clip v128)
    (local.set $sqrtA (f32x4.splat (local.get $a)))
    (local.set $sqrtB (f32x4.splat (local.get $b)))
    (local.set $sqrtAPrev (f32x4.splat (local.get $aPrev)))
    (local.set $sqrtBPrev (f32x4.splat (local.get $bPrev)))
    (local.set $cSkip (f32x4.splat (local.get $skip)))
    (local.set $cOut (f32x4.splat (local.get $outC)))
    (local.set $clip (f32x4.splat (local.get $clipValue)))
    (local.set $end (i32.add (local.get $s) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $s) (local.get $end)))
      (local.set $x (v128.load (local.get $s)))
      (local.set $d (f32x4.add
        (f32x4.mul (local.get $cOut) (call $alphaX0 (local.get $kind) (local.get $x) (v128.load (local.get $m)) (local.get $sqrtA) (local.get $sqrtB) (local.get $clip)))
        (f32x4.mul (local.get $cSkip) (local.get $x))))
      (v128.store (local.get $denoised) (local.get $d))
      (if (local.get $hasNoise) (then
        (local.set $d (f32x4.add (f32x4.mul (local.get $sqrtAPrev) (local.get $d)) (f32x4.mul (local.get $sqrtBPrev) (v128.load (local.get $noise)))))
        (local.set $noise (i32.add (local.get $noise) (i32.const 16)))))
      (v128.store (local.get $s) (local.get $d))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (local.set $m (i32.add (local.get $m) (i32.const 16)))
      (local.set $denoised (i32.add (local.get $denoised) (i32.const 16)))
      (br $next))))

  ;; PNDM's Runge-Kutta accumulation: acc + w x into $out ($hasAcc 0: 0 + w x, so -0 becomes +0
  ;; as from the zero tensor diffusers starts with).
  (func (export "accumulate") (param $acc i32) (param $hasAcc i32) (param $x i32) (param $out i32) (param $n i32) (param $w f32)
    (local $end i32) (local $wv v128)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (v128.store (local.get $out) (f32x4.add
        (if (result v128) (local.get $hasAcc) (then (v128.load (local.get $acc))) (else (v128.const f32x4 0 0 0 0)))
        (f32x4.mul (local.get $wv) (v128.load (local.get $x)))))
      (local.set $acc (i32.add (local.get $acc) (i32.const 16)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $next))))

  ;; PNDM's linear multistep combination of $order model outputs, oldest first (e0 .. e3) into $out:
  ;; 1: (e0 + e1) / 2 (the repeated timestep's average); 2: (3 e1 - e0) / 2;
  ;; 3: (23 e2 - 16 e1 + 5 e0) / 12; 4: (55 e3 - 59 e2 + 37 e1 - 9 e0) * float32(1/24).
  (func (export "plms") (param $order i32) (param $e0 i32) (param $e1 i32) (param $e2 i32) (param $e3 i32) (param $out i32) (param $n i32)
    (local $end i32) (local $v v128)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (block $combined
        (if (i32.eq (local.get $order) (i32.const 1)) (then
          (local.set $v (f32x4.div (f32x4.add (v128.load (local.get $e0)) (v128.load (local.get $e1))) (f32x4.splat (f32.const 2))))
          (br $combined)))
        (if (i32.eq (local.get $order) (i32.const 2)) (then
          (local.set $v (f32x4.div
            (f32x4.sub (f32x4.mul (f32x4.splat (f32.const 3)) (v128.load (local.get $e1))) (v128.load (local.get $e0)))
            (f32x4.splat (f32.const 2))))
          (br $combined)))
        (if (i32.eq (local.get $order) (i32.const 3)) (then
          (local.set $v (f32x4.div
            (f32x4.add
              (f32x4.sub (f32x4.mul (f32x4.splat (f32.const 23)) (v128.load (local.get $e2))) (f32x4.mul (f32x4.splat (f32.const 16)) (v128.load (local.get $e1))))
              (f32x4.mul (f32x4.splat (f32.const 5)) (v128.load (local.get $e0))))
            (f32x4.splat (f32.const 12))))
          (br $combined)))
        (local.set $v (f32x4.mul
          (f32x4.splat (f32.const 0x1.555556p-5)) ;; float32(1/24)
          (f32x4.sub
            (f32x4.add
              (f32x4.sub (f32x4.mul (f32x4.splat (f32.const 55)) (v128.load (local.get $e3))) (f32x4.mul (f32x4.splat (f32.const 59)) (v128.load (local.get $e2))))
              (f32x4.mul (f32x4.splat (f32.const 37)) (v128.load (local.get $e1))))
            (f32x4.mul (f32x4.splat (f32.const 9)) (v128.load (local.get $e0)))))))
      (v128.store (local.get $out) (local.get $v))
      (local.set $e0 (i32.add (local.get $e0) (i32.const 16)))
      (local.set $e1 (i32.add (local.get $e1) (i32.const 16)))
      (local.set $e2 (i32.add (local.get $e2) (i32.const 16)))
      (local.set $e3 (i32.add (local.get $e3) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $next))))

  ;; Formula (9) of the PNDM paper: sampleCoeff x - diff eps / denom into $out, eps the model
  ;; output or, for v_prediction ($v), sqrt(alpha) m + sqrt(1 - alpha) x.
  (func (export "pndmPrev") (param $v i32) (param $s i32) (param $m i32) (param $out i32) (param $n i32)
    (param $sc f32) (param $df f32) (param $dn f32) (param $a f32) (param $b f32)
    (local $end i32) (local $x v128) (local $eps v128)
    (local $sampleCoeff v128) (local $diff v128) (local $denom v128) (local $sqrtA v128) (local $sqrtB v128)
    (local.set $sampleCoeff (f32x4.splat (local.get $sc)))
    (local.set $diff (f32x4.splat (local.get $df)))
    (local.set $denom (f32x4.splat (local.get $dn)))
    (local.set $sqrtA (f32x4.splat (local.get $a)))
    (local.set $sqrtB (f32x4.splat (local.get $b)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (local.set $x (v128.load (local.get $s)))
      (local.set $eps (v128.load (local.get $m)))
      (if (local.get $v) (then
        (local.set $eps (f32x4.add (f32x4.mul (local.get $sqrtA) (local.get $eps)) (f32x4.mul (local.get $sqrtB) (local.get $x))))))
      (v128.store (local.get $out) (f32x4.sub
        (f32x4.mul (local.get $sampleCoeff) (local.get $x))
        (f32x4.div (f32x4.mul (local.get $diff) (local.get $eps)) (local.get $denom))))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (local.set $m (i32.add (local.get $m) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $next))))

  ;; DPM-Solver++'s data prediction: (x - sigma_t m) / alpha (epsilon) or alpha x - sigma_t m
  ;; (v_prediction) into $out.
  (func (export "dpmX0") (param $kind i32) (param $s i32) (param $m i32) (param $out i32) (param $n i32) (param $a f32) (param $st f32)
    (local $end i32) (local $x v128) (local $alpha v128) (local $sigmaT v128)
    (local.set $alpha (f32x4.splat (local.get $a)))
    (local.set $sigmaT (f32x4.splat (local.get $st)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (local.set $x (v128.load (local.get $s)))
      (v128.store (local.get $out)
        (if (result v128) (i32.eqz (local.get $kind))
          (then (f32x4.div (f32x4.sub (local.get $x) (f32x4.mul (local.get $sigmaT) (v128.load (local.get $m)))) (local.get $alpha)))
          (else (f32x4.sub (f32x4.mul (local.get $alpha) (local.get $x)) (f32x4.mul (local.get $sigmaT) (v128.load (local.get $m)))))))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (local.set $m (i32.add (local.get $m) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $next))))

  ;; DPM-Solver++ in place on $s: first order (DDIM in lambda) sampleCoeff x - d0Coeff m0, and
  ;; with $second the multistep second order's - (midpoint) or + (heun, $plus) d1Coeff D1,
  ;; D1 = (m0 - m1) / r0 as invR0 (m0 - m1).
  (func (export "dpmUpdate") (param $second i32) (param $plus i32) (param $s i32) (param $m0 i32) (param $m1 i32) (param $n i32)
    (param $sc f32) (param $d0 f32) (param $d1 f32) (param $inv f32)
    (local $end i32) (local $y v128) (local $d v128)
    (local $sampleCoeff v128) (local $d0Coeff v128) (local $d1Coeff v128) (local $invR0 v128)
    (local.set $sampleCoeff (f32x4.splat (local.get $sc)))
    (local.set $d0Coeff (f32x4.splat (local.get $d0)))
    (local.set $d1Coeff (f32x4.splat (local.get $d1)))
    (local.set $invR0 (f32x4.splat (local.get $inv)))
    (local.set $end (i32.add (local.get $s) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $s) (local.get $end)))
      (local.set $y (f32x4.sub (f32x4.mul (local.get $sampleCoeff) (v128.load (local.get $s))) (f32x4.mul (local.get $d0Coeff) (v128.load (local.get $m0)))))
      (if (local.get $second) (then
        (local.set $d (f32x4.mul (local.get $d1Coeff)
          (f32x4.mul (local.get $invR0) (f32x4.sub (v128.load (local.get $m0)) (v128.load (local.get $m1))))))
        (local.set $y (if (result v128) (local.get $plus)
          (then (f32x4.add (local.get $y) (local.get $d)))
          (else (f32x4.sub (local.get $y) (local.get $d)))))))
      (v128.store (local.get $s) (local.get $y))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (local.set $m0 (i32.add (local.get $m0) (i32.const 16)))
      (local.set $m1 (i32.add (local.get $m1) (i32.const 16)))
      (br $next)))))
