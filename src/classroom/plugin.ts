/**
 * The Class section, built in one call: the part of the classroom feature
 * that index.ts loads on demand (only under JupyterHub).
 */
import type { ServerConnection } from '@jupyterlab/services';
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Widget } from '@lumino/widgets';
import '../../style/classroom.css';
import { yoloLabIcon } from '../icons';
import { replyFromYoloLab } from '../serverApi';
import { ClassModel } from './model';
import { ClassSection } from './section';

/** Where the tab goes: JupyterLab's shell. */
export interface IShellLike {
  add(widget: Widget, area: 'main'): void;
  activateById(id: string): void;
}

/**
 * A Class section reading the server extension while it (or its tab) is
 * shown; a teacher can open the same class in a main-area tab, where the
 * table has room.
 */
export function classSection(
  trans: TranslationBundle,
  shell: IShellLike,
  settings: ServerConnection.ISettings
): ClassSection {
  const views: ClassSection[] = [];
  const model = new ClassModel({
    request: path => replyFromYoloLab(settings, [path]),
    isShown: () => views.some(view => view.isVisible)
  });
  let tab: MainAreaWidget<ClassSection> | null = null;
  const openTab = (): void => {
    if (!tab || tab.isDisposed) {
      const content = new ClassSection(model, trans);
      views.push(content);
      tab = new MainAreaWidget({ content });
      tab.id = 'yl-class-tab';
      tab.title.label = trans.__('Class');
      tab.title.icon = yoloLabIcon;
      tab.title.closable = true;
      content.disposed.connect(() => views.splice(views.indexOf(content), 1));
      shell.add(tab, 'main');
    }
    shell.activateById(tab.id);
  };
  const section = new ClassSection(model, trans, { onOpen: openTab });
  views.push(section);
  section.title.label = trans.__('Class');
  section.disposed.connect(() => model.dispose());
  return section;
}
