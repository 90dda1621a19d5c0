/**
 * Where a run trains: this kernel's machine, or a Slurm cluster's nodes
 * (train(..., cluster=Slurm(...))). The form's Slurm fields, their checks
 * (in the words of yolo_lab.training.slurm.Slurm) and the argument the
 * cell writes. No DOM here.
 */

/** Where the form's runs train. */
export type Where = 'kernel' | 'slurm';

/** The form's Slurm fields, as the user types them. */
export interface ISlurmFields {
  where: Where;
  slurmPartition: string;
  slurmNodes: string;
  slurmGpusPerNode: string;
  slurmTime: string;
  slurmAccount: string;
}

/** Slurm's defaults: one node, the CPU, the cluster's partition and limit. */
export const DEFAULT_SLURM: ISlurmFields = {
  where: 'kernel',
  slurmPartition: '',
  slurmNodes: '1',
  slurmGpusPerNode: '0',
  slurmTime: '',
  slurmAccount: ''
};

// As yolo_lab/training/slurm/request.py reads them.
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const TIME = /^(\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2}){0,2})$/;

function count(text: string, low: number): number | null {
  const t = text.trim();
  return /^\d+$/.test(t) && Number(t) >= low ? Number(t) : null;
}

/** Each node's GPUs (0: the CPU); null while the field is not a count. */
export function slurmGpus(fields: ISlurmFields): number | null {
  return count(fields.slurmGpusPerNode, 0);
}

/** The nodes asked for; null while the field is not a count. */
export function slurmNodes(fields: ISlurmFields): number | null {
  return count(fields.slurmNodes, 1);
}

/** The Slurm fields' errors by field: the request Slurm(...) would refuse. */
export function slurmErrors(
  fields: ISlurmFields
): Partial<Record<keyof ISlurmFields, string>> {
  const errors: Partial<Record<keyof ISlurmFields, string>> = {};
  if (fields.where !== 'slurm') {
    return errors;
  }
  if (slurmNodes(fields) === null) {
    errors.slurmNodes = 'Nodes: a whole number from 1.';
  }
  if (slurmGpus(fields) === null) {
    errors.slurmGpusPerNode =
      'GPUs per node: a whole number from 0 (0: a CPU run).';
  }
  for (const key of ['slurmPartition', 'slurmAccount'] as const) {
    const value = fields[key].trim();
    if (value && !NAME.test(value)) {
      errors[key] =
        'Not a name Slurm uses: give it as sinfo lists it, or leave it empty for the default.';
    }
  }
  if (fields.slurmTime.trim() && !TIME.test(fields.slurmTime.trim())) {
    errors.slurmTime =
      'Not a time Slurm reads: e.g. 4:00:00 or 1-00:00:00, or empty for the default.';
  }
  return errors;
}

/** The cell's `cluster=` argument: Slurm(...) with the fields given. */
export function slurmArg(fields: ISlurmFields): string {
  const args: string[] = [];
  const partition = fields.slurmPartition.trim();
  if (partition) {
    args.push(`partition=${JSON.stringify(partition)}`);
  }
  args.push(`nodes=${slurmNodes(fields) ?? 1}`);
  const gpus = slurmGpus(fields) ?? 0;
  if (gpus) {
    args.push(`gpus_per_node=${gpus}`);
  }
  const time = fields.slurmTime.trim();
  if (time) {
    args.push(`time=${JSON.stringify(time)}`);
  }
  const account = fields.slurmAccount.trim();
  if (account) {
    args.push(`account=${JSON.stringify(account)}`);
  }
  return `Slurm(${args.join(', ')})`;
}
