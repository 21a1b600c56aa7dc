import { registerQualityMenu, addQualityMenu } from './quality-menu.js';
import { attachThumbnails } from './thumbnails.js';

/** UI hooks for createPlayerClass(): quality menu + storyboard preview. */
export function createUi(videojs, env) {
  registerQualityMenu(videojs);
  return {
    attach(player, vsrc) {
      const menu = addQualityMenu(player, vsrc);
      const thumbs = attachThumbnails(player, env);
      return {
        menu,
        setThumbnails: (cues) => thumbs.setThumbnails(cues),
        dispose: () => thumbs.dispose(),
      };
    },
  };
}
