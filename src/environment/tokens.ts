/**
 * The environment feature's token.
 */
import { Token } from '@lumino/coreutils';
import type { EnvironmentModel } from './model';

/** The doctor of the transport's kernel. Provided by `yolo-lab:environment`. */
export interface IEnvironment {
  /** The connection phase, the kernel and its last report. */
  readonly model: EnvironmentModel;
  /** Run the doctor; resolves when the model has the report or why not. */
  check(): Promise<void>;
}

/** The environment token. */
export const IEnvironment = new Token<IEnvironment>(
  'yolo-lab:IEnvironment',
  'The environment doctor of the kernel yolo-lab is connected to.'
);
