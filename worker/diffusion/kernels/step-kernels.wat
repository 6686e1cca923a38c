;; The per-step value loops shared by every sampler, four values per instruction (WebAssembly
;; SIMD): building the UNet's sample input (scaleModelInput's division, fp16 conversion) and
;; reading its predictions (fp16 decoding, the classifier-free guidance combine). They run on
;; the main thread between two UNet calls, so they are the device's critical path.
;;
;; Every kernel gives the same bits as the scalar JavaScript it replaced (step-tensors.ts
;; keeps that code for tails and as the test's reference): division is one correctly rounded
;; float32 operation either way, and the guidance combine is computed in float64 and rounded
;; once, as JavaScript does. Addresses are byte offsets into the imported memory; `n` counts
;; values and is a multiple of 4 (the caller handles the rest).
;;
;; Built into step-kernels.wasm by `npm run build:kernels`; a test checks the two agree.
(module
  (import "env" "memory" (memory 1))

  ;; dst[k] = src[k] / d
  (func (export "divide") (param $src i32) (param $dst i32) (param $n i32) (param $d f32)
    (local $end i32) (local $dd v128)
    (local.set $dd (f32x4.splat (local.get $d)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
      (v128.store (local.get $dst) (f32x4.div (v128.load (local.get $src)) (local.get $dd)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br $next))))

  ;; dst[k] = the half bits (u16) of src[k] / d, rounded to nearest even, as float32ToFloat16Into
  ;; gives: normals by rebiasing the exponent and adding 0xfff plus the kept mantissa's lowest
  ;; bit before the shift; zero and subnormals by adding 0.5, which puts the half's last
  ;; mantissa bit at float32's and lets the addition round (F. Giesen's float_to_half_fast3_rtne);
  ;; |x| >= 65520 is Inf, NaN is 0x7e00; then the sign.
  (func (export "toHalf") (param $src i32) (param $dst i32) (param $n i32) (param $d f32)
    (local $end i32) (local $dd v128) (local $x v128) (local $abs v128) (local $h v128)
    (local.set $dd (f32x4.splat (local.get $d)))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (local.set $x (f32x4.div (v128.load (local.get $src)) (local.get $dd)))
      (local.set $abs (v128.and (local.get $x) (i32x4.splat (i32.const 0x7fffffff))))
      ;; a normal half: (15 - 127) << 23 rebiases, + 0xfff (+ the lowest kept bit) rounds
      (local.set $h (i32x4.shr_u
        (i32x4.add
          (i32x4.add (local.get $abs) (i32x4.splat (i32.const -939520001)))
          (v128.and (i32x4.shr_u (local.get $abs) (i32.const 13)) (i32x4.splat (i32.const 1))))
        (i32.const 13)))
      ;; below 2^-14: zero or a subnormal half
      (local.set $h (v128.bitselect
        (i32x4.sub (f32x4.add (local.get $abs) (f32x4.splat (f32.const 0.5))) (i32x4.splat (i32.const 0x3f000000)))
        (local.get $h)
        (i32x4.lt_u (local.get $abs) (i32x4.splat (i32.const 0x38800000)))))
      ;; at or above 65520: Inf, or NaN above float32's Inf
      (local.set $h (v128.bitselect
        (v128.or (i32x4.splat (i32.const 0x7c00))
          (v128.and (i32x4.gt_u (local.get $abs) (i32x4.splat (i32.const 0x7f800000))) (i32x4.splat (i32.const 0x0200))))
        (local.get $h)
        (i32x4.ge_u (local.get $abs) (i32x4.splat (i32.const 0x47800000)))))
      (v128.store64_lane 0 (local.get $dst)
        (i16x8.narrow_i32x4_u
          (v128.or (local.get $h) (v128.and (i32x4.shr_u (local.get $x) (i32.const 16)) (i32x4.splat (i32.const 0x8000))))
          (v128.const i32x4 0 0 0 0)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
      (br $next))))

  ;; The four half values (u16 bits) at $p as float32: the magnitude's bits shifted into float32
  ;; place and multiplied by 2^112 rebias normals and subnormals exactly; exponent 31 (Inf, NaN)
  ;; gets float32's 255.
  (func $half4 (param $p i32) (result v128)
    (local $h v128) (local $bits v128)
    (local.set $h (i32x4.extend_low_i16x8_u (v128.load64_zero (local.get $p))))
    (local.set $bits (f32x4.mul
      (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x7fff))) (i32.const 13))
      (f32x4.splat (f32.const 0x1p112))))
    (local.set $bits (v128.or (local.get $bits)
      (v128.and
        (i32x4.eq (v128.and (local.get $h) (i32x4.splat (i32.const 0x7c00))) (i32x4.splat (i32.const 0x7c00)))
        (i32x4.splat (i32.const 0x7f800000)))))
    (v128.or (local.get $bits) (i32x4.shl (v128.and (local.get $h) (i32x4.splat (i32.const 0x8000))) (i32.const 16))))

  ;; dst[k] = the half at src[k] (u16 bits) as float32
  (func (export "fromHalf") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
      (v128.store (local.get $dst) (call $half4 (local.get $src)))
      (local.set $src (i32.add (local.get $src) (i32.const 8)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br $next))))

  ;; u + g * (c - u) for two float32x4 of values, in float64, rounded once to float32
  (func $guide (param $u v128) (param $c v128) (param $g v128) (result v128)
    (local $lo v128) (local $hi v128)
    (local.set $lo (f64x2.promote_low_f32x4 (local.get $u)))
    (local.set $lo (f64x2.add (local.get $lo)
      (f64x2.mul (local.get $g) (f64x2.sub (f64x2.promote_low_f32x4 (local.get $c)) (local.get $lo)))))
    (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $u) (local.get $u))))
    (local.set $hi (f64x2.add (local.get $hi)
      (f64x2.mul (local.get $g)
        (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c) (local.get $c)))
                   (local.get $hi)))))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))

  ;; dst[k] = u[k] + g * (c[k] - u[k]), float32 predictions
  (func (export "guide") (param $u i32) (param $c i32) (param $dst i32) (param $n i32) (param $g f64)
    (local $end i32) (local $gg v128)
    (local.set $gg (f64x2.splat (local.get $g)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
      (v128.store (local.get $dst) (call $guide (v128.load (local.get $u)) (v128.load (local.get $c)) (local.get $gg)))
      (local.set $u (i32.add (local.get $u) (i32.const 16)))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br $next))))

  ;; the same for half predictions (u16 bits at u and c)
  (func (export "guideHalf") (param $u i32) (param $c i32) (param $dst i32) (param $n i32) (param $g f64)
    (local $end i32) (local $gg v128)
    (local.set $gg (f64x2.splat (local.get $g)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
      (v128.store (local.get $dst) (call $guide (call $half4 (local.get $u)) (call $half4 (local.get $c)) (local.get $gg)))
      (local.set $u (i32.add (local.get $u) (i32.const 8)))
      (local.set $c (i32.add (local.get $c) (i32.const 8)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br $next)))))
