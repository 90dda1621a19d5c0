/**
 * The notice of a kernel check that finds an error while the panel is closed.
 */
import { EnvironmentModel } from '../environment/model';
import { doctorNotice, DoctorNotices } from '../environment/notice';
import type { IDoctorNotice } from '../environment/notice';
import { FINDINGS, makeReport } from './fixtures';

describe('doctor notices', () => {
  it('says the first error and its fix, once per kernel, not while the panel shows it', () => {
    const model = new EnvironmentModel();
    const told: IDoctorNotice[] = [];
    let panelOpen = false;
    const notices = new DoctorNotices(model, {
      seen: () => panelOpen,
      notify: notice => told.push(notice)
    });
    // Warnings only: nothing to tell.
    let epoch = model.attach('Python 3', 'a.ipynb');
    model.reported(epoch, makeReport([FINDINGS[0], FINDINGS[2]]));
    expect(told).toEqual([]);
    // An error: told with its fix.
    epoch = model.attach('Python 3', 'b.ipynb');
    model.reported(epoch, makeReport(FINDINGS));
    expect(told).toHaveLength(1);
    expect(told[0].message).toContain('No GPU visible to this kernel');
    expect(told[0].message).toContain('docker run --gpus all');
    // The same kernel checked again: not told twice.
    model.checking(epoch);
    model.reported(epoch, makeReport(FINDINGS));
    expect(told).toHaveLength(1);
    // Another notebook's kernel with the panel open: seen, not told.
    panelOpen = true;
    epoch = model.attach('Python 3', 'c.ipynb');
    model.reported(epoch, makeReport(FINDINGS));
    expect(told).toHaveLength(1);
    // A kernel without yolo_lab, panel closed: the install command.
    panelOpen = false;
    epoch = model.attach('Python 3', 'd.ipynb');
    model.missingPackage(epoch, 'No module named yolo_lab');
    expect(told).toHaveLength(2);
    expect(told[1].message).toContain('%pip install yolo-lab');
    notices.dispose();
    model.dispose();
  });

  it('has nothing to say before a report', () => {
    const model = new EnvironmentModel();
    model.attach('Python 3', 'a.ipynb');
    expect(doctorNotice(model.state)).toBeNull();
    model.dispose();
  });
});
