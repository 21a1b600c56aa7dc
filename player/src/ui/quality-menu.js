// Control-bar quality menu ("Auto", "1080p", "720p", ...) over player.qualityLevels().

let registered = false;

export function registerQualityMenu(videojs) {
  if (registered) return;
  registered = true;
  const MenuButton = videojs.getComponent('MenuButton');
  const MenuItem = videojs.getComponent('MenuItem');

  class VSRCQualityMenuItem extends MenuItem {
    constructor(player, options) {
      super(player, { selectable: true, multiSelectable: false, ...options });
      this.key = options.key;
      this.addClass('vsrc-quality-item');
      this.el().setAttribute('data-quality', String(options.key));
    }

    handleClick(event) {
      super.handleClick(event);
      const vsrc = this.options_.vsrc;
      if (vsrc) vsrc.setQuality(this.key);
    }
  }

  class VSRCQualityMenuButton extends MenuButton {
    constructor(player, options) {
      super(player, options);
      this.controlText('Quality');
      this.menuButton_.el_.setAttribute('aria-describedby', this.labelElId_);
      this.updateLabel();
      this.on(player, 'vsrc:qualitieschange', () => {
        this.update();
        this.updateLabel();
      });
      this.on(player, 'loadstart', () => {
        this.update();
        this.updateLabel();
      });
    }

    createEl() {
      const el = super.createEl();
      this.labelElId_ = `vsrc-quality-value-${this.id_}`;
      this.labelEl_ = videojs.dom.createEl('div', {
        className: 'vsrc-quality-value',
        id: this.labelElId_,
        textContent: 'Auto',
      });
      el.appendChild(this.labelEl_);
      return el;
    }

    buildCSSClass() {
      return `vsrc-quality-button ${super.buildCSSClass()}`;
    }

    buildWrapperCSSClass() {
      return `vsrc-quality-button ${super.buildWrapperCSSClass()}`;
    }

    createItems() {
      const vsrc = this.options_.vsrc;
      const model = vsrc ? vsrc.getQualityMenu() : [];
      // Only "Auto" means there is nothing to choose from: hide the button.
      this.hideThreshold_ = 1;
      return model.map(
        (it) =>
          new VSRCQualityMenuItem(this.player_, {
            label: it.label,
            key: it.key,
            selected: it.selected,
            vsrc,
          }),
      );
    }

    updateLabel() {
      if (!this.labelEl_) return;
      const vsrc = this.options_.vsrc;
      const sel = vsrc ? vsrc.getQuality() : 'auto';
      this.labelEl_.textContent = sel === 'auto' ? 'Auto' : `${sel}p`;
    }

    dispose() {
      this.labelEl_ = null;
      super.dispose();
    }
  }

  videojs.registerComponent('VSRCQualityMenuItem', VSRCQualityMenuItem);
  videojs.registerComponent('VSRCQualityMenuButton', VSRCQualityMenuButton);
}

/** Add the button to the control bar, before the fullscreen toggle. */
export function addQualityMenu(player, vsrc) {
  const cb = player.getChild('ControlBar') || player.controlBar;
  if (!cb) return null;
  const children = cb.children();
  const fs = cb.getChild('FullscreenToggle') || cb.getChild('PictureInPictureToggle');
  let index = children.length;
  if (fs) index = children.indexOf(fs);
  const pip = cb.getChild('PictureInPictureToggle');
  if (pip && children.indexOf(pip) >= 0 && children.indexOf(pip) < index) index = children.indexOf(pip);
  return cb.addChild('VSRCQualityMenuButton', { vsrc }, index);
}
