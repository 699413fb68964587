// SPDX-License-Identifier: GPL-3.0-or-later
// ChatPane: talk to the open model, and compare the original with the quantized model (the "Chat" dock).
//
// Layout: a bar (A/B toggle, sampling popup with its summary, chat template, Reset conversation), the
// transcript (one
// column, or two in A/B mode with the comparison figures under them), the prompt box (multi-line;
// Ctrl+Enter sends) with Send and Stop (Esc while the pane has focus), and a status line with tokens per
// second, live.
//
// Jobs: the models come from ChatModels (tokenizer, original and quantized weights, each a cached job); a
// turn is one JobRunner job running core's qs::ChatSession (chat_generation.h) whose tokens come back through a
// TokenStream in batches of at most one queued call per 30 ms, so a fast model does not flood the event loop. Stop cancels the job:
// its progress callback returns false and the turn ends within one token; the job ends Cancelled.
//
// A/B mode ("A/B: original vs quantized"): the original model and the quantized model (the Document's map)
// answer the same prompt with the same seed and settings. Left column: the original's text; every token whose
// top-1 choice the quantized model — fed the original's own tokens (teacher forcing) — would not share is
// highlighted, and hovering any token shows KL(P_original || P_quantized) at that position and both top-1
// tokens. Right column: what the quantized model writes on its own; the token where it first leaves the
// original's text is underlined. Under the columns: mean KL, top-1 agreement and the speed of each model.
// The comparison is made on the original's stream because two free-running samples stop being comparable
// after their first difference (see core/infer/chat_session.h).
//
// Empty states: no model; a model that is not Llama-family or has no tokenizer (the reason is shown).
// A conversation continues across prompts until Reset, a model change, the A/B toggle, or (A/B) a map edit
// that changes the quantized model. UI thread only.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <memory>
#include <vector>

#include <QPointer>
#include <QWidget>

#include "ui/chat/chat_generation.h"
#include "ui/jobs/job.h"

class QCheckBox;
class QComboBox;
class QHBoxLayout;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QStackedWidget;
class QToolButton;

namespace qsui {

class ChatModels;
class ChatTranscript;
class Document;
class JobRunner;
class SamplingSettings;

class ChatPane : public QWidget {
    Q_OBJECT
public:
    ChatPane(Document* document, JobRunner* runner, bool useSettings, QWidget* parent = nullptr);
    ~ChatPane() override;

    // Actions (also bound to the buttons and keys).
    void setPrompt(const QString& text);
    void send();   // sends the prompt box's text (waits for the tokenizer if it is still loading)
    void stop();   // stops the running turn (or the model build it waits for)
    void resetConversation();
    void setAbMode(bool on);
    bool abMode() const;
    // --screenshot --view chat --prompt TEXT: sent by runScreenshotPrompt() (A/B when the map quantizes).
    void setScreenshotPrompt(const QString& text) { m_screenshotPrompt = text; }
    void runScreenshotPrompt();

    SamplingSettings* sampling() const { return m_sampling; }
    ChatModels* models() const { return m_models; }
    bool isBusy() const { return m_state != State::Idle; }
    Job* currentJob() const { return m_job; }
    bool showsEmptyState() const;
    QString emptyStateText() const;
    QString statusText() const;

    // The last turn: tokens of column A (single model / original) and B (quantized, A/B), and their text.
    const std::vector<ChatToken>& lastTokensA() const { return m_turnA; }
    const std::vector<ChatToken>& lastTokensB() const { return m_turnB; }
    QString lastReplyA() const;
    QString lastReplyB() const;
    struct AbFigures {
        int compared = 0, agree = 0;
        double meanKl = 0;
        double rateA = 0, rateB = 0;  // tokens per second
    };
    AbFigures abFigures() const { return m_figures; }
    Job::State lastTurnState() const { return m_lastState; }
    ChatTranscript* transcriptA() const;
    ChatTranscript* transcriptB() const { return m_quantView; }

Q_SIGNALS:
    void turnStarted();
    void turnFinished(qsui::Job::State state);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    QHBoxLayout* createBar();
    void createColumns();
    QWidget* createChatPage(QHBoxLayout* bar);
    void createStack(QWidget* chatPage);
    void connectSignals();
    enum class State { Idle, WaitingForModels, Generating };
    void updateAvailability();
    void updateControls();
    void updateSamplingSummary();
    void updateAbHeaders();
    void prepareAndStart(int serial, const QString& text, bool ab);
    void startTurn(int serial, const QString& text, bool ab);
    void onChunk(const ChatChunk& chunk);
    void onTurnFinished(Job* job, Job::State state);
    void endTurnWithError(const QString& message);
    void clearTranscripts();

    Document* m_document;
    JobRunner* m_runner;
    ChatModels* m_models;
    SamplingSettings* m_sampling;
    bool m_useSettings;

    QStackedWidget* m_stack;
    QLabel* m_empty;
    QCheckBox* m_abToggle;
    QToolButton* m_settingsButton;
    QLabel* m_samplingSummary;
    QComboBox* m_template;
    QPushButton* m_reset;
    QStackedWidget* m_columns;
    ChatTranscript* m_singleView;
    ChatTranscript* m_originalView;
    ChatTranscript* m_quantView;
    QLabel* m_originalHeader;
    QLabel* m_quantHeader;
    QLabel* m_abSummary;
    QPlainTextEdit* m_prompt;
    QPushButton* m_send;
    QPushButton* m_stop;
    QLabel* m_status;

    State m_state = State::Idle;
    int m_serial = 0;  // turn counter: stale callbacks (reset, model change) compare and drop
    bool m_sendWhenReady = false;
    QPointer<Job> m_job;
    std::shared_ptr<ChatSession> m_session;
    std::vector<ChatToken> m_turnA, m_turnB;
    int m_divergedAt = -1;  // first index where B's token differs from A's (-1: not yet)
    AbFigures m_figures;
    int m_tokensA = 0, m_tokensB = 0;
    Job::State m_lastState = Job::State::Queued;
    QString m_screenshotPrompt;
};

}  // namespace qsui
