/**
 * The training commands (palette, notebook toolbar, run views): each asks
 * the controller, which checks the form before anything is written or run.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { runIcon, stopIcon } from '@jupyterlab/ui-components';
import type { CommandRegistry } from '@lumino/commands';
import { autotuneOutcome } from './autotune';
import { FormInvalidError, type TrainingController } from './controller';

/** Command ids of the training feature. */
export namespace CommandIDs {
  export const insertTrainingCell = 'yolo-lab:insert-training-cell';
  export const train = 'yolo-lab:train';
  export const stopTraining = 'yolo-lab:stop-training';
  export const resumeRun = 'yolo-lab:resume-run';
  export const openRun = 'yolo-lab:open-run';
  export const applyFix = 'yolo-lab:apply-fix';
  export const benchmark = 'yolo-lab:benchmark';
  export const autotune = 'yolo-lab:autotune';
}

/** What the commands need besides the controller. */
export interface ITrainingCommandsOptions {
  trans: TranslationBundle;
  /** Show the sidebar, where the form and its errors are. */
  showPanel: () => void;
}

/**
 * Run an action; a refusal or a failure becomes a notification that says
 * why (the same words as the sidebar's), never an uncaught error.
 */
async function tell(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (reason) {
    const message =
      reason instanceof FormInvalidError
        ? reason.messages.join(' ')
        : reason instanceof Error
          ? reason.message
          : String(reason);
    Notification.error(message, { autoClose: 8000 });
  }
}

/** Register the training commands. */
export function addTrainingCommands(
  commands: CommandRegistry,
  controller: TrainingController,
  options: ITrainingCommandsOptions
): void {
  const { trans, showPanel } = options;
  commands.addCommand(CommandIDs.insertTrainingCell, {
    label: trans.__('Insert training cell'),
    caption: trans.__(
      'Write a train(...) cell from the yolo-lab panel settings below the active cell'
    ),
    execute: () =>
      tell(async () => {
        if (!controller.form.valid) {
          showPanel();
        }
        await controller.insertCell();
      })
  });
  // Train and Stop are enabled only when they would act; their captions
  // (the toolbar buttons' and palette items' tooltips) say why not. A
  // disabled Train is disabled in the palette too: the sidebar shows the
  // form's errors next to their fields, and execute() (called directly)
  // still refuses with the same words.
  commands.addCommand(CommandIDs.train, {
    label: trans.__('Train'),
    caption: () => {
      const refusals = controller.refusals;
      return refusals.length
        ? trans.__('Cannot train yet: %1', refusals.join(' '))
        : trans.__(
            'Train YOLOv5: write the training cell from the yolo-lab panel settings and run it'
          );
    },
    icon: runIcon,
    isEnabled: () => controller.canTrain && controller.form.valid,
    execute: () =>
      tell(async () => {
        showPanel();
        await controller.train();
      })
  });
  commands.addCommand(CommandIDs.stopTraining, {
    label: trans.__('Stop training'),
    caption: () =>
      controller.canStop
        ? trans.__(
            'Stop the running training after its current batch (last.pt is saved)'
          )
        : trans.__('No training of this notebook is running.'),
    icon: stopIcon,
    isEnabled: () => controller.canStop,
    execute: () => tell(() => controller.stop())
  });
  controller.stateChanged.connect(() => {
    commands.notifyCommandChanged(CommandIDs.train);
    commands.notifyCommandChanged(CommandIDs.stopTraining);
  });
  commands.addCommand(CommandIDs.resumeRun, {
    label: trans.__('Resume training run'),
    execute: async args => {
      const run = String(args.run);
      const kernel = typeof args.kernel === 'string' ? args.kernel : null;
      // A run view is an output any notebook can carry (its renderer is
      // safe): resuming runs the YOLOv5 code its folder names, so a run
      // this kernel did not start is resumed only when the user says so.
      if (!controller.startedHere(kernel)) {
        const answer = await showDialog({
          title: trans.__('Resume a run this kernel did not start?'),
          body: trans.__(
            '%1 was not started by the kernel this notebook uses. Resuming it trains with the settings in its folder and imports the YOLOv5 code they name: resume only run folders you trust.',
            run
          ),
          buttons: [
            Dialog.cancelButton({ label: trans.__('Cancel') }),
            Dialog.warnButton({ label: trans.__('Resume') })
          ]
        });
        if (!answer.button.accept) {
          return;
        }
      }
      await tell(() => controller.resume(run));
    }
  });
  commands.addCommand(CommandIDs.applyFix, {
    label: trans.__('Apply a speed fix to the training form'),
    execute: args => {
      const form =
        typeof args.form === 'object' && args.form !== null
          ? (args.form as Record<string, unknown>)
          : {};
      try {
        if (controller.form.apply(form).length) {
          showPanel();
        }
      } catch (reason) {
        // A fix the form cannot take: said, never dropped (FixRefusedError).
        Notification.error(
          reason instanceof Error ? reason.message : String(reason),
          { autoClose: 8000 }
        );
      }
    }
  });
  commands.addCommand(CommandIDs.benchmark, {
    label: trans.__('Measure the speed table on this machine'),
    caption: trans.__(
      'Write and run a cell that trains one epoch on the CPU and on each GPU, and shows the speed-ups'
    ),
    execute: () => tell(() => controller.benchmark())
  });
  commands.addCommand(CommandIDs.autotune, {
    label: trans.__('Autotune the training settings on this machine'),
    caption: trans.__(
      'Write and run a cell that probes batch size, workers, cache (and AMP on a GPU) and puts the fastest in the training form'
    ),
    execute: () =>
      tell(async () => {
        const { result, applied } = await controller.autotune();
        const text = autotuneOutcome(trans, result, applied);
        if (applied) {
          Notification.success(text, { autoClose: 8000 });
        } else {
          Notification.info(text, { autoClose: 8000 });
        }
      })
  });
  commands.addCommand(CommandIDs.openRun, {
    label: trans.__('Show training run'),
    execute: args => tell(() => controller.open(String(args.run)))
  });
}
