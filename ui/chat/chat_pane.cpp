// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chat/chat_pane.h"

#include <cmath>

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QMenu>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStackedWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <QWidgetAction>

#include "ui/chat/chat_models.h"
#include "ui/chat/chat_transcript.h"
#include "ui/chat/sampling_settings.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"

namespace qsui {
namespace {

const QString kAbKey = QStringLiteral("chat/abMode");
const QColor kDiffers(0xff, 0xc0, 0x7a);     // quantized top-1 differs (orange)
const QColor kDiverged(0xcf, 0xe3, 0xff);    // first token where B leaves A's text (light blue)

QString visible(const qs::Tokenizer* tok, int id) {
    if (!tok || id < 0) return QStringLiteral("?");
    QString s = QString::fromUtf8(tok->piece(id));
    s.replace(QLatin1Char('\n'), QStringLiteral("\\n"));
    return QStringLiteral("“%1”").arg(s.toHtmlEscaped());
}

QString rateText(double rate) {
    return rate > 0 ? QObject::tr("%1 tok/s").arg(rate, 0, 'f', rate < 100 ? 1 : 0) : QStringLiteral("– tok/s");
}

QString joined(const std::vector<ChatToken>& tokens) {
    std::string s;
    for (const ChatToken& t : tokens) s += t.bytes;
    return QString::fromUtf8(s);
}

}  // namespace

ChatPane::ChatPane(Document* document, JobRunner* runner, bool useSettings, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_runner(runner),
      m_models(new ChatModels(document, runner, this)),
      m_sampling(new SamplingSettings(useSettings)),
      m_useSettings(useSettings) {
    setObjectName(QStringLiteral("chatPane"));
    QHBoxLayout* bar = createBar();
    createColumns();
    QWidget* chatPage = createChatPage(bar);
    createStack(chatPage);
    connectSignals();

    m_abToggle->setChecked(m_useSettings && QSettings().value(kAbKey, false).toBool());
    m_columns->setCurrentIndex(m_abToggle->isChecked() ? 1 : 0);
    updateSamplingSummary();
    updateAvailability();
}

// The bar above the transcripts: A/B toggle, sampling menu and summary, chat template, reset.
QHBoxLayout* ChatPane::createBar() {
    m_abToggle = new QCheckBox(tr("&A/B: original vs quantized"));
    m_abToggle->setToolTip(
        tr("<p>Let the original model (as stored) and the quantized model (the current map) answer the same "
           "prompt with the same seed and sampling settings, side by side.</p>"
           "<p>Left: the original's text. A token is <span style='background:#ffc07a'>highlighted</span> when the "
           "quantized model, fed the original's own tokens, would pick a different most likely token there; "
           "hover any token for KL(P<sub>original</sub> ‖ P<sub>quantized</sub>) and both top-1 choices.</p>"
           "<p>Right: what the quantized model writes on its own; the token where it first leaves the original's "
           "text is <span style='background:#cfe3ff'>marked</span>.</p><p>Below: mean KL, top-1 agreement, "
           "tokens per second of each. (Alt+A)</p>"));
    m_settingsButton = new QToolButton;
    m_settingsButton->setText(tr("&Sampling"));
    m_settingsButton->setPopupMode(QToolButton::InstantPopup);
    m_settingsButton->setToolTip(tr("Temperature, top-k, top-p, repetition penalty, seed, maximum of new tokens (Alt+S)"));
    auto* menu = new QMenu(m_settingsButton);
    auto* action = new QWidgetAction(menu);
    action->setDefaultWidget(m_sampling);
    menu->addAction(action);
    m_settingsButton->setMenu(menu);
    m_samplingSummary = new QLabel;
    m_samplingSummary->setToolTip(tr("The sampling settings the next reply uses"));
    m_samplingSummary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    // Chat template: the model's own ("auto") or one chosen by name (qs::chatTemplateNames()).
    m_template = new QComboBox;
    m_template->addItem(tr("Template: auto"), QString());
    for (const std::string& n : qs::chatTemplateNames())
        m_template->addItem(tr("Template: %1").arg(QString::fromStdString(n)), QString::fromStdString(n));
    m_template->setToolTip(tr("How turns are formatted: auto uses the model's chat template (tokenizer_config.json "
                              "chat_template or GGUF tokenizer.chat_template); plain continues the text as a base "
                              "model would. Changing it starts a new conversation."));
    connect(m_template, &QComboBox::currentIndexChanged, this, [this](int i) {
        resetConversation();
        m_models->setTemplateOverride(m_template->itemData(i).toString());
    });
    m_reset = new QPushButton(tr("&Reset conversation"));
    m_reset->setToolTip(tr("Forget the conversation (and the models' KV caches) and start afresh (Alt+R)"));
    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->addWidget(m_abToggle);
    bar->addWidget(m_settingsButton);
    bar->addWidget(m_samplingSummary, 1);
    bar->addWidget(m_template);
    bar->addWidget(m_reset);
    return bar;
}

// The transcripts: one for a single model, or the original and the quantized side by side (A/B).
void ChatPane::createColumns() {
    m_singleView = new ChatTranscript;
    m_singleView->setToolTip({});
    m_originalView = new ChatTranscript;
    m_quantView = new ChatTranscript;
    m_originalHeader = new QLabel;
    m_quantHeader = new QLabel;
    m_originalHeader->setToolTip(tr("The unquantized model, as stored in the checkpoint"));
    m_quantHeader->setToolTip(tr("The model with the current quantization map applied (every tensor quantized, then "
                                 "run through its dequantization)"));
    auto column = [](QLabel* header, ChatTranscript* view) {
        auto* w = new QWidget;
        auto* l = new QVBoxLayout(w);
        l->setContentsMargins(0, 0, 0, 0);
        l->setSpacing(2);
        l->addWidget(header);
        l->addWidget(view, 1);
        return w;
    };
    // Labels never widen the dock: at 1280x720 it shares the width with the model tree and the summary.
    for (QLabel* l : {m_originalHeader, m_quantHeader}) l->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(column(m_originalHeader, m_originalView));
    split->addWidget(column(m_quantHeader, m_quantView));
    split->setChildrenCollapsible(false);
    m_abSummary = new QLabel;
    m_abSummary->setToolTip(tr("Over the original's tokens of the last reply: KL divergence of the quantized model's "
                               "next-token distribution from the original's (softmax at temperature 1), and how "
                               "often both models' most likely token agree"));
    m_columns = new QStackedWidget;
    m_columns->addWidget(m_singleView);
    m_columns->addWidget(split);
    // Four lines at least (two were too few to read a reply); the window raises the chat dock to fit.
    for (ChatTranscript* t : {m_singleView, m_originalView, m_quantView})
        t->setMinimumHeight(t->fontMetrics().lineSpacing() * 4 + 2 * t->frameWidth() + 8);
}

// The prompt row and the status row, and the page holding the bar, the transcripts and both rows.
QWidget* ChatPane::createChatPage(QHBoxLayout* bar) {
    m_prompt = new QPlainTextEdit;
    m_prompt->setPlaceholderText(tr("Type a prompt, e.g. “Once upon a time” — Ctrl+Enter sends"));
    m_prompt->setToolTip(tr("The prompt; Ctrl+Enter sends it, Esc stops a reply being written"));
    m_prompt->setTabChangesFocus(true);
    const int lineHeight = m_prompt->fontMetrics().lineSpacing();
    m_prompt->setFixedHeight(lineHeight * 2 + 12);
    m_send = new QPushButton(tr("Send"));
    m_send->setToolTip(tr("Send the prompt (Ctrl+Enter)"));
    m_stop = new QPushButton(tr("Stop"));
    m_stop->setToolTip(tr("Stop the reply being written (Esc)"));
    auto* promptRow = new QHBoxLayout;
    promptRow->setContentsMargins(0, 0, 0, 0);
    promptRow->addWidget(m_prompt, 1);
    promptRow->addWidget(m_send, 0, Qt::AlignTop);
    promptRow->addWidget(m_stop, 0, Qt::AlignTop);
    m_status = new QLabel;
    m_status->setToolTip(tr("What the chat is doing; tokens per second exclude the prompt"));
    auto* statusRow = new QHBoxLayout;
    statusRow->setContentsMargins(0, 0, 0, 0);
    statusRow->addWidget(m_status, 1);
    statusRow->addWidget(m_abSummary, 1, Qt::AlignRight);
    for (QLabel* l : {m_status, m_abSummary, m_samplingSummary}) l->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);

    auto* chatPage = new QWidget;
    auto* chatLayout = new QVBoxLayout(chatPage);
    chatLayout->setContentsMargins(4, 2, 4, 2);
    chatLayout->setSpacing(3);
    chatLayout->addLayout(bar);
    chatLayout->addWidget(m_columns, 1);
    chatLayout->addLayout(promptRow);
    chatLayout->addLayout(statusRow);
    return chatPage;
}

// The empty state in front of the chat page.
void ChatPane::createStack(QWidget* chatPage) {
    m_empty = new QLabel;
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_empty->setMargin(16);
    m_stack = new QStackedWidget;
    m_stack->addWidget(m_empty);
    m_stack->addWidget(chatPage);
    auto* root = new QVBoxLayout(this);
    root->setContentsMargins(0, 0, 0, 0);
    root->addWidget(m_stack);
}

void ChatPane::connectSignals() {
    // Keys: Ctrl+Enter on the prompt box sends; Esc (see eventFilter) stops while the pane has focus.
    for (QKeySequence key : {QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)}) {
        auto* sc = new QShortcut(key, m_prompt, nullptr, nullptr, Qt::WidgetShortcut);
        connect(sc, &QShortcut::activated, this, &ChatPane::send);
    }
    for (QWidget* w : std::initializer_list<QWidget*>{m_prompt, m_singleView, m_originalView, m_quantView, m_stop, m_send})
        w->installEventFilter(this);

    connect(m_send, &QPushButton::clicked, this, &ChatPane::send);
    connect(m_stop, &QPushButton::clicked, this, &ChatPane::stop);
    connect(m_reset, &QPushButton::clicked, this, &ChatPane::resetConversation);
    connect(m_abToggle, &QCheckBox::toggled, this, [this](bool on) {
        if (m_useSettings) QSettings().setValue(kAbKey, on);
        resetConversation();
        m_columns->setCurrentIndex(on ? 1 : 0);
        updateAbHeaders();
    });
    connect(m_sampling, &SamplingSettings::changed, this, &ChatPane::updateSamplingSummary);
    connect(m_prompt, &QPlainTextEdit::textChanged, this, &ChatPane::updateControls);
    connect(m_models, &ChatModels::availabilityChanged, this, &ChatPane::updateAvailability);
    connect(m_models, &ChatModels::quantizedChanged, this, &ChatPane::updateAbHeaders);
    connect(m_document, &Document::modelChanged, this, &ChatPane::resetConversation);
}

ChatPane::~ChatPane() {
    if (m_job) m_job->cancel();
}

bool ChatPane::abMode() const { return m_abToggle->isChecked(); }
void ChatPane::setAbMode(bool on) { m_abToggle->setChecked(on); }
void ChatPane::setPrompt(const QString& text) { m_prompt->setPlainText(text); }
ChatTranscript* ChatPane::transcriptA() const { return abMode() ? m_originalView : m_singleView; }
bool ChatPane::showsEmptyState() const { return m_stack->currentWidget() == m_empty; }
QString ChatPane::emptyStateText() const { return m_empty->text(); }
QString ChatPane::statusText() const { return m_status->text(); }
QString ChatPane::lastReplyA() const { return joined(m_turnA); }
QString ChatPane::lastReplyB() const { return joined(m_turnB); }

void ChatPane::updateAvailability() {
    switch (m_models->availability()) {
        case ChatModels::Availability::NoModel:
            m_empty->setText(tr("Open a checkpoint the engine runs (Llama, Mistral, Qwen 2/3, Gemma 1/2/3) with a tokenizer to chat with it."));
            m_stack->setCurrentWidget(m_empty);
            break;
        case ChatModels::Availability::Checking:
            m_empty->setText(tr("Loading the tokenizer…"));
            m_stack->setCurrentWidget(m_empty);
            break;
        case ChatModels::Availability::Unavailable:
            m_empty->setText(m_models->unavailableReason());
            m_stack->setCurrentWidget(m_empty);
            m_sendWhenReady = false;
            break;
        case ChatModels::Availability::Ready:
            m_stack->setCurrentIndex(1);
            if (!m_models->chatFormat()) {
                // The model's template is not one QuantScope renders: say why, and wait for a choice.
                m_status->setText(tr("Choose a chat template: %1").arg(m_models->templateProblem()));
                m_status->setToolTip(m_models->templateProblem());
                m_sendWhenReady = false;
                break;
            }
            m_status->setText(tr("Ready · %1 · %2").arg(m_models->tokenizerDescription(), m_models->templateDescription()));
            m_status->setToolTip(tr("What the chat is doing; tokens per second exclude the prompt"));
            if (std::exchange(m_sendWhenReady, false)) send();
            break;
    }
    updateAbHeaders();
    updateControls();
}

void ChatPane::updateControls() {
    const bool ready = m_models->availability() == ChatModels::Availability::Ready && m_models->chatFormat();
    m_send->setEnabled(ready && m_state == State::Idle);
    m_stop->setEnabled(m_state != State::Idle);
    m_abToggle->setEnabled(m_state == State::Idle);
    m_template->setEnabled(m_state == State::Idle);
    m_sampling->setEnabled(m_state == State::Idle);
}

void ChatPane::updateSamplingSummary() { m_samplingSummary->setText(m_sampling->summary()); }

void ChatPane::updateAbHeaders() {
    const int quantized = m_models->quantizedTensorCount();
    m_originalHeader->setText(tr("<b>Original</b> · %1 · <span style='background:#ffc07a'>&nbsp;top-1 differs&nbsp;</span> "
                                 "· hover: KL")
                                  .arg(rateText(m_figures.rateA)));
    const QString what = quantized == 0 ? tr("the map quantizes nothing") : tr("%1 tensors").arg(quantized);
    m_quantHeader->setText(tr("<b>Quantized</b> (%1) · %2 · <span style='background:#cfe3ff'>&nbsp;first "
                              "difference&nbsp;</span>")
                               .arg(what, rateText(m_figures.rateB)));
    const bool ab = abMode();
    m_abSummary->setVisible(ab && m_figures.compared > 0);
    if (m_figures.compared == 0) {
        m_abSummary->clear();
        return;
    }
    m_abSummary->setText(tr("<b>mean KL %1 nats · top-1 agree %2%</b> (%3/%4)")
                             .arg(m_figures.meanKl, 0, 'g', 3)
                             .arg(100.0 * m_figures.agree / m_figures.compared, 0, 'f', 1)
                             .arg(m_figures.agree)
                             .arg(m_figures.compared));
}

void ChatPane::clearTranscripts() {
    for (ChatTranscript* t : {m_singleView, m_originalView, m_quantView}) t->clearAll();
}

void ChatPane::resetConversation() {
    m_sendWhenReady = false;
    if (m_state != State::Idle) {
        // Drop the running turn at once (its job is cancelled and its late tokens ignored); the next prompt
        // starts a new session, so the old job may finish with its own at leisure.
        if (m_job) m_job->cancel();
        m_job = nullptr;
        ++m_serial;
        m_state = State::Idle;
        m_lastState = Job::State::Cancelled;
        updateControls();
        Q_EMIT turnFinished(Job::State::Cancelled);
    }
    m_session.reset();
    m_turnA.clear();
    m_turnB.clear();
    m_figures = {};
    clearTranscripts();
    updateAbHeaders();
    if (m_models->availability() == ChatModels::Availability::Ready) m_status->setText(tr("New conversation"));
}

void ChatPane::stop() {
    if (m_state == State::Idle) {
        m_sendWhenReady = false;
        return;
    }
    if (m_state == State::Generating) {
        if (m_job) m_job->cancel();  // the turn ends within one token; onTurnFinished tidies up
        return;
    }
    // Waiting for a model build: drop the turn (the build goes on and is cached for the next prompt).
    ++m_serial;
    m_state = State::Idle;
    transcriptA()->appendNote(tr("(stopped before the model was ready)"));
    m_status->setText(tr("Stopped"));
    m_lastState = Job::State::Cancelled;
    updateControls();
    Q_EMIT turnFinished(Job::State::Cancelled);
}

void ChatPane::runScreenshotPrompt() {
    if (m_screenshotPrompt.isEmpty()) return;
    setAbMode(m_models->quantizedTensorCount() > 0);
    setPrompt(m_screenshotPrompt);
    send();
}

void ChatPane::send() {
    if (m_state != State::Idle) return;
    if (m_models->availability() == ChatModels::Availability::Checking) {
        m_sendWhenReady = true;  // the tokenizer is loading: send once it is there
        return;
    }
    if (m_models->availability() != ChatModels::Availability::Ready || !m_models->chatFormat()) return;
    const QString text = m_prompt->toPlainText();
    const bool ab = abMode();
    if (text.isEmpty() && m_session) {
        m_status->setText(tr("Type a prompt to continue the conversation"));
        return;
    }
    m_prompt->clear();
    const QString shown = text.isEmpty() ? tr("(no prompt: the model starts from BOS)") : text;
    if (ab) {
        m_originalView->appendPrompt(shown);
        m_quantView->appendPrompt(shown);
    } else {
        m_singleView->appendPrompt(shown);
    }
    m_turnA.clear();
    m_turnB.clear();
    m_divergedAt = -1;
    m_figures = {};
    m_state = State::WaitingForModels;
    const int serial = ++m_serial;
    updateControls();
    Q_EMIT turnStarted();
    m_status->setText(tr("Preparing the model…"));
    prepareAndStart(serial, text, ab);
}

void ChatPane::prepareAndStart(int serial, const QString& text, bool ab) {
    m_models->requestOriginal([this, serial, text, ab](const QString& error) {
        if (serial != m_serial) return;
        if (!error.isEmpty()) return endTurnWithError(tr("Could not load the model: %1").arg(error));
        if (!ab) return startTurn(serial, text, false);
        if (!m_models->quantized()) m_status->setText(tr("Quantizing the model under the map…"));
        m_models->requestQuantized([this, serial, text](const QString& error) {
            if (serial != m_serial) return;
            if (!error.isEmpty()) return endTurnWithError(tr("Could not quantize the model: %1").arg(error));
            startTurn(serial, text, true);
        });
    });
}

void ChatPane::startTurn(int serial, const QString& text, bool ab) {
    auto original = m_models->original();
    auto quantized = ab ? m_models->quantized() : nullptr;
    auto tokenizer = m_models->tokenizer();
    if (!original || !tokenizer || (ab && !quantized)) return endTurnWithError(tr("the model is not available"));
    if (!m_session || m_session->comparing() != ab || m_session->originalWeights() != original ||
        m_session->quantizedWeights() != quantized) {
        if (m_session && m_session->turns() > 0)
            transcriptA()->appendNote(tr("(new conversation: the quantized model changed with the map)"));
        m_session = makeChatSession(original, quantized, m_runner->arena());
    }
    ChatTurnOptions options;
    options.text = text.toStdString();
    options.format = m_models->chatFormat();
    if (!options.format) return endTurnWithError(m_models->templateProblem());
    options.generate = m_sampling->options();
    auto stream = std::make_shared<TokenStream>(this, [this, serial](ChatChunk&& chunk) {
        if (serial == m_serial) onChunk(chunk);
    });
    std::shared_ptr<ChatSession> session = m_session;
    Job* job = m_runner->start<ChatTurnResult>(
        ab ? tr("Chat: A/B reply") : tr("Chat: reply"),
        [session, tokenizer, options, stream](const qs::ProgressFn& progress) {
            return runChatTurn(*session, *tokenizer, options, *stream, progress);
        });
    m_job = job;
    m_state = State::Generating;
    m_tokensA = m_tokensB = 0;
    m_status->setText(tr("Generating…"));
    updateControls();
    connect(job, &Job::finished, this, [this, job, stream, serial](Job::State state) {
        stream->flush();  // the worker is done: deliver what the last batch did not carry
        if (serial != m_serial) return;
        onTurnFinished(job, state);
    });
}

void ChatPane::onChunk(const ChatChunk& c) {
    const bool ab = m_session && m_session->comparing();
    const qs::Tokenizer* tok = m_models->tokenizer().get();
    for (const ChatToken& t : c.a) {
        const int index = int(m_turnA.size());
        m_turnA.push_back(t);
        if (!ab) {
            m_singleView->appendToken(t.bytes);
            continue;
        }
        const QString tip = tr("<b>%1</b> (token %2 of the reply)<br>KL(P<sub>original</sub> ‖ P<sub>quantized</sub>) = "
                               "%3 nats<br>top-1 original: %4 (p = %5)<br>top-1 quantized: %6 (p = %7)%8")
                                .arg(visible(tok, t.id))
                                .arg(index + 1)
                                .arg(t.kl, 0, 'g', 3)
                                .arg(visible(tok, t.top1Original))
                                .arg(t.probOriginal, 0, 'f', 3)
                                .arg(visible(tok, t.top1Quantized))
                                .arg(t.probQuantized, 0, 'f', 3)
                                .arg(t.top1Differs() ? tr("<br><b>the top-1 choices differ</b>") : QString());
        m_originalView->appendToken(t.bytes, t.top1Differs() ? kDiffers : QColor(), tip);
    }
    for (const ChatToken& t : c.b) {
        const int index = int(m_turnB.size());
        m_turnB.push_back(t);
        bool first = false;
        if (m_divergedAt < 0 && (index >= int(m_turnA.size()) || m_turnA[size_t(index)].id != t.id)) {
            m_divergedAt = index;
            first = true;
        }
        m_quantView->appendToken(t.bytes, first ? kDiverged : QColor(),
                                 first ? tr("The quantized model's own text leaves the original's here (token %1)")
                                             .arg(index + 1)
                                       : QString(),
                                 first);
    }
    m_tokensA = c.totals.tokensA;
    m_tokensB = c.totals.tokensB;
    m_figures.rateA = c.totals.rateA;
    m_figures.rateB = c.totals.rateB;
    m_figures.compared = c.totals.compared;
    m_figures.agree = c.totals.agree;
    m_figures.meanKl = c.totals.meanKl();
    if (ab) {
        updateAbHeaders();
        m_status->setText(tr("Generating… %1 + %2 tokens").arg(m_tokensA).arg(m_tokensB));
    } else {
        m_status->setText(tr("Generating… %1 tokens · %2").arg(m_tokensA).arg(rateText(c.totals.rateA)));
    }
}

void ChatPane::onTurnFinished(Job* job, Job::State state) {
    m_job = nullptr;
    m_state = State::Idle;
    m_lastState = state;
    for (ChatTranscript* t : {m_singleView, m_originalView, m_quantView}) t->finishTurn();
    const bool ab = m_session && m_session->comparing();
    const QString speed = ab ? tr("%1 / %2").arg(rateText(m_figures.rateA), rateText(m_figures.rateB))
                             : rateText(m_figures.rateA);
    const QString count = ab ? tr("%1 + %2 tokens").arg(m_tokensA).arg(m_tokensB) : tr("%1 tokens").arg(m_tokensA);
    switch (state) {
        case Job::State::Succeeded: {
            auto r = job->result<ChatTurnResult>();
            QString why = QString::fromUtf8(std::string(qs::stopName(r->stopA)));
            if (ab && r->stopB != r->stopA) why += QStringLiteral(" / ") + QString::fromUtf8(std::string(qs::stopName(r->stopB)));
            m_status->setText(tr("Done · %1 · %2 · stop: %3").arg(count, speed, why));
            break;
        }
        case Job::State::Cancelled:
            m_status->setText(tr("Stopped · %1 · %2").arg(count, speed));
            transcriptA()->appendNote(tr("(stopped)"));
            break;
        default:
            m_status->setText(tr("Failed: %1").arg(job->errorMessage()));
            transcriptA()->appendNote(tr("(failed: %1)").arg(job->errorMessage()));
            break;
    }
    updateAbHeaders();
    updateControls();
    Q_EMIT turnFinished(state);
}

void ChatPane::endTurnWithError(const QString& message) {
    m_state = State::Idle;
    m_lastState = Job::State::Failed;
    m_status->setText(message);
    transcriptA()->appendNote(QStringLiteral("(%1)").arg(message));
    updateControls();
    Q_EMIT turnFinished(Job::State::Failed);
}

bool ChatPane::eventFilter(QObject* watched, QEvent* event) {
    // Esc stops a reply while the pane has focus. The window's own Esc (cancel the current job) is a
    // shortcut; accepting the ShortcutOverride lets the key reach us instead, so the two never fight.
    if ((event->type() == QEvent::ShortcutOverride || event->type() == QEvent::KeyPress) &&
        static_cast<QKeyEvent*>(event)->key() == Qt::Key_Escape && m_state != State::Idle) {
        event->accept();
        if (event->type() == QEvent::KeyPress) stop();
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

}  // namespace qsui
