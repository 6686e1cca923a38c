/**
 * The sampler names the product offers, in the order the worker's sampler table lists them
 * (worker/diffusion/schedulers/table.ts, whose rows build each one). Kept here, below the
 * worker, because configuration (ALLOWED_SAMPLERS), the job schema and the model catalog
 * validate names without loading a scheduler; the table is typed over these names and a
 * test checks both list the same ones in the same order.
 */
export const SAMPLERS = ['ddim', 'pndm', 'euler', 'euler_a', 'dpmpp_2m', 'dpmpp_2m_karras', 'lcm'] as const;

export type SamplerName = (typeof SAMPLERS)[number];
