import './base.css';
import './status.css';
import './sidebar.css';
