/** Reading sizes from ONNX shapes and config files, for the families' interface checks. */

/** A dimension's size when the export fixed it (symbolic names are free). */
export function fixedDim(dim: number | string | undefined): number | undefined {
  return typeof dim === 'number' ? dim : undefined;
}

/** A positive integer from a config file, or undefined. */
export function configInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
