// /info pieces that come from outside berth: the init's commit from its --version output.
import t from 'tap';
import { initCommitOf } from '../../daemon/backend/system';

t.test('InitCommit.ID is the git commit tini prints, as moby parses it', async (t) => {
  t.equal(initCommitOf('tini version 0.19.0 - git.de40ad0\n'), 'de40ad0', 'Docker\'s docker-init');
  t.equal(initCommitOf('tini version 0.19.0\n'), '', 'Debian\'s tini prints no commit');
  t.equal(initCommitOf('tini version 0.18.0 - gitfec3683'), '', 'not git.<commit>');
});
